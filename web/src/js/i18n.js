// zh-CN and en strings for every text of the console and the field app. The language defaults from the
// browser, can be switched, and the choice is kept in localStorage.
import { MERCHANT_STRINGS } from './i18n-merchants.js';
import { POINTS_STRINGS } from './i18n-points.js';
import { REDEEM_STRINGS } from './i18n-redeem.js';
import { AUDIT_STRINGS } from './i18n-audit.js';

const STRINGS = {
  en: {
    app: 'griddispatch', console: 'Dispatch console', admin: 'Administration', operator_view: 'Operator view',
    login: 'Sign in', logout: 'Sign out', username: 'Username', password: 'Password',
    login_failed: 'Wrong username or password', login_locked: 'Too many failed attempts; try again in {secs} s',
    login_unavailable: 'Sign-in is not available on this server', language: 'Language',
    live_on: 'Live', live_off: 'Reconnecting…', live_poll: 'Polling',
    queue: 'Incident queue', no_incidents: 'No open incidents', new_incident: 'New incident',
    since_alert: 'alert', since_offer: 'offer', since_accept: 'accept',
    due: 'Due by', no_deadline: 'no deadline', incident_overdue: 'Overdue', overdue_by: 'overdue {time}',
    layers_zones: 'Zones', layers_cameras: 'Cameras', layers_responders: 'Responders', layers_incidents: 'Incidents',
    severity: 'Severity', sev: 'S{n}', state: 'State', kind: 'Kind', zone: 'Zone', location: 'Location', address: 'Address',
    description: 'Description', created: 'Alert at', title: 'Title', close: 'Close', note: 'Note (timeline)',
    assign: 'Assign', reassign: 'Reassign', cancel_incident: 'Cancel incident', close_incident: 'Close incident',
    candidates: 'Candidates', eta: 'ETA', distance: 'Distance', in_zone: 'In zone', score: 'Score',
    no_candidates: 'No candidate (on duty, free, recent fix)', tasks: 'Tasks', responder: 'Responder',
    status: 'Status', offered_at: 'Offered', timeline: 'Timeline', alerts: 'Linked alerts', snapshots: 'Snapshots',
    none: 'none', yes: 'yes', no: 'no', actor: 'Actor', source: 'Source', camera: 'Camera',
    manual_hint: 'Click on the map to place the incident, or type coordinates.', lat: 'Latitude', lon: 'Longitude',
    create: 'Create', cancel: 'Cancel', save: 'Save', delete: 'Delete', edit: 'Edit', add: 'Add',
    confirm_cancel: 'Cancel incident {id}?', confirm_delete: 'Delete {what}?', done: 'Done',
    sev1_alarm: 'SEVERITY 1 INCIDENT', fix_age: 'fix {age} ago', no_fix: 'no fix', on_duty: 'On duty', off_duty: 'Off duty',
    st_new: 'new', st_dispatching: 'dispatching', st_assigned: 'assigned', st_en_route: 'en route',
    st_on_scene: 'on scene', st_resolved: 'resolved', st_closed: 'closed', st_escalated: 'escalated', st_cancelled: 'cancelled',
    t_offered: 'offered', t_accepted: 'accepted', t_rejected: 'rejected', t_en_route: 'en route', t_on_scene: 'on scene',
    t_resolved: 'resolved', t_expired: 'expired', t_withdrawn: 'withdrawn',
    cam_online: 'online', cam_offline: 'offline', cam_unknown: 'unknown',
    zones: 'Zones', responders: 'Responders', cameras: 'Cameras', sources: 'Alert sources', users: 'Users',
    import_geojson: 'Import GeoJSON', export_geojson: 'Export GeoJSON', import_cameras: 'Import CSV/GeoJSON',
    draw_zone: 'Draw zone', zone_id: 'Zone id', zone_name: 'Name', zone_kind: 'Kind', edit_shape: 'Edit shape',
    finish_edit: 'Finish editing', id: 'Id', name: 'Name', travel: 'Travel', skills: 'Skills', role: 'Role',
    reset_password: 'Reset MQTT password', credentials_once: 'MQTT login (shown once): {user} / {pw}',
    stream_uri: 'Stream URI', gb28181_id: 'GB/T 28181 id', disabled: 'Disabled', new_password: 'New password',
    imported: 'Imported {n}', saved: 'Saved', error: 'Error', forbidden: 'Not allowed for your role',
    users_unavailable: 'User management is not available on this server', create_user: 'Create user',
    draw_first: 'Draw the zone on the map first (polygon tool).', created_incident: 'Incident {id} created',
    severity_help: '1 = most urgent', open_admin: 'Administration', open_operator: 'Operator view',
    coordinates: 'Coordinates', pick_on_map: 'Pick on map', last_error: 'Last error',
    field_app: 'Field tasks', worker_id: 'Worker id', sign_in_hint: 'Use the MQTT login your administrator gave you.',
    broker: 'Server', connecting: 'Connecting…', online: 'Online', offline: 'Offline', no_broker: 'This server has no MQTT WebSocket listener (mqtt.ws_listen); ask your administrator.',
    bad_login: 'Wrong worker id or password', my_tasks: 'My tasks', no_tasks: 'No open tasks. Stay safe.',
    go_on_duty: 'Go on duty', go_off_duty: 'Go off duty', duty_offline: 'Reconnect to change duty',
    a_accepted: 'Accept', a_rejected: 'Reject', a_en_route: 'En route', a_on_scene: 'On scene', a_resolved: 'Resolved',
    reject_reason: 'Why can you not take it?', resolution_note: 'What was done (note)', send: 'Send', back: 'Back',
    respond_within: 'Answer within {secs}', overdue: 'Answer overdue', navigate: 'Navigate', nav_system: 'Map app',
    nav_amap: 'AutoNavi', nav_baidu: 'Baidu', rendezvous: 'Meet at', incident_at: 'Incident at', pending_n: '{n} waiting to send',
    queued: 'Saved; sends when back online', sent_wait: 'Sent; waiting for the dispatcher', refused: 'Not accepted: {reason}',
    closed_withdrawn: 'Withdrawn: {reason}', closed_expired: 'Expired: {reason}', closed_resolved: 'Resolved', resolution_received: 'Resolution received by the dispatch centre',
    closed_rejected: 'Rejected: {reason}', closed_gone: 'No longer assigned to you', dismiss: 'Dismiss',
    enable_alerts: 'Enable sound and notifications', new_task: 'New task: {title}', my_position: 'My position',
    no_position: 'No position yet (allow location access)', dropped_answer: '“{status}” was not sent: the task closed',
    your_status: 'Your status', pictures: '{n} picture(s)', picture_failed: 'Picture not available now',
    f_rework: 'Rework', f_rework_reason: 'Sent back: {reason}', f_rework_noreason: 'Sent back by the dispatch centre',
    f_verify: 'Verification', f_verify_intro: 'Check the work {who} reported as done', f_verify_intro_nowho: 'Check the work reported as done',
    f_resolution_note: 'Their note: {note}', f_resolution_nonote: 'They left no note.', a_verified: 'Verified', a_rework: 'Send back for rework',
    verify_note: 'What you found (optional)',
    verdict_received: 'Verification received by the dispatch centre', a_v_accepted: 'Take it: check on site', a_v_rejected: 'Decline',
    f_ask_ext: 'Ask for more time', f_ext_minutes: 'More minutes', f_min_n: '{n} min', f_ext_reason: 'Why do you need more time?',
    f_ext_sent: 'Request sent: {minutes} more minutes; waiting for the dispatcher', f_ext_pending: 'More time asked for ({minutes} min): waiting for the dispatcher',
    f_ext_offline: 'Offline: the request cannot be sent now. Try again when back online.',
    f_ext_bad_minutes: 'Minutes: a whole number from 1 to 10080', f_ext_bad_reason: 'Give a reason (at most 500 characters)',
    f_ext_failed: 'The request did not reach the server; try again',
    f_rep_open: 'Report a problem (photo)', f_rep_title: 'Report a problem', f_rep_note: 'What is wrong', f_rep_note_hint: 'What you see, and where exactly',
    f_rep_photo: 'Photo', f_rep_at: 'Your position: {lat}, {lon} (±{acc} m)', f_rep_no_position: 'Your position is not known yet: allow location and wait a moment',
    f_rep_send: 'Send report', f_rep_sending: 'Sending…', f_rep_sent: 'Report received: incident {id}', f_rep_refused: 'Report refused',
    f_rep_offline: 'The report did not reach the server; it is kept here, send it again', f_rep_bad_photo: 'That picture could not be read; take another',
    f_rep_no_kind: 'Choose what kind of problem it is', f_rep_note_long: 'The note is too long (2000 characters at most)',
    k_litter: 'litter', k_road_damage: 'road damage', k_manhole: 'manhole cover', k_fire_lane: 'fire lane blocked', k_parking: 'illegal parking',
    k_noise: 'noise', k_elderly_help: 'elderly needs help',
    f_ext_approved: 'More time approved: +{minutes} min, new deadline {due}', f_ext_approved_note: 'More time approved: +{minutes} min, new deadline {due} ({note})',
    f_ext_approved_nodue: 'More time approved: +{minutes} min', f_ext_approved_nodue_note: 'More time approved: +{minutes} min ({note})',
    f_ext_refused: 'More time refused: {note}', f_ext_refused_nonote: 'More time refused',
    // roles, kinds, the closed loop (drawer actions), reports
    // timeline events (docs/contract.md, "Timeline events") and who acted
    tl_alert_opened: 'Alert {alert} received', tl_alert_linked: 'Alert {alert} joined this incident',
    tl_snapshot: 'Snapshot {n} from camera {camera} ({source})', tl_snapshot_failed: 'Snapshot from camera {camera} failed: {reason}',
    tl_offered: 'Offered to {responders}', tl_assigned: 'Assigned to {responder} by an operator', tl_accepted: '{responder} accepted',
    tl_rejected: '{responder} declined', tl_no_acceptance: 'Nobody accepted after {offers} offers', tl_no_responder: 'No responder available',
    tl_chosen_declined: 'The responder an operator chose did not take it', tl_closed_unverified: 'Closed at once: {kind} needs no verification',
    tl_no_inspector: 'No inspector available; an operator verifies', tl_inspection_offered: 'Verification offered to inspector {responder}',
    tl_inspection_accepted: 'Inspector {responder} is going to check', tl_verified: 'Verified', tl_rework: 'Sent back for rework: {reason}',
    tl_rework_offered: 'Rework offered to {responder}, who resolved it', tl_suspended: 'Suspended', tl_resumed: 'Resumed',
    tl_extension_asked: '{responder} asks for {minutes} more minutes: {reason}', tl_extension_granted: 'Extension of {minutes} min for {responder} approved',
    tl_extension_refused: 'Extension for {responder} refused', tl_note: '{text}', tl_with_note: '{text}: {note}', list_sep: ', ',
    actor_dispatcher: 'Dispatcher (system)', actor_source: 'Source {id}',
    role_viewer: 'viewer', role_operator: 'operator', role_admin: 'admin', open_reports: 'Reports', reports: 'Reports',
    k_medical: 'medical', k_fire: 'fire', k_fall: 'fall', k_intrusion: 'intrusion', k_fight: 'fight', k_flood: 'flood',
    k_traffic: 'traffic', k_guidance: 'guidance', k_alarm: 'alarm', k_motion: 'motion', k_tripwire: 'tripwire',
    k_camera_fault: 'camera fault', k_device_fault: 'device fault', k_manual_alarm: 'manual alarm', k_left_object: 'left object',
    k_object_removed: 'object removed', k_wrong_way: 'wrong way', k_loitering: 'loitering', k_crowd: 'crowd', k_fast_movement: 'fast movement',
    st_suspended: 'suspended', dash: '—', eta_est: 'Travel estimate', eta_help: 'Estimated travel time from the last position fix; not a countdown',
    road_eta: 'ETA', straight_dist: 'Straight line', road_dist: 'Road distance', eta_straight: 'straight line',
    eta_road: 'by road', road_eta_help: 'Travel time on the roads of the responder\'s mode; straight line × detour factor where there is no road route',
    layers_routes: 'Task routes', route_road: 'route by road', route_straight: 'no road route: straight line',
    mode_foot: 'on foot', mode_bike: 'by bike', mode_car: 'by car',
    approx_lt_min: '< 1 min', approx_min: '≈ {n} min', approx_h_min: '≈ {h} h {m} min',
    act_verify: 'Verify resolution', act_rework: 'Send back for rework', act_suspend: 'Suspend', act_resume: 'Resume',
    act_approve: 'Approve extension', act_refuse: 'Refuse extension', rework_reason: 'Why must it be redone?',
    reason_required: 'Please give a reason', ext_pending: 'Extension requested: {minutes} min', ext_reason: 'Reason: {reason}',
    ext_minutes: 'Minutes granted', not_on_server: 'This server does not offer “{what}” yet', due_at: 'Due', past_due: 'overdue',
    loop_actions: 'Follow-up',
    period: 'Period', this_month: 'This month', last_month: 'Last month', custom: 'Custom', from: 'From', to: 'To', show: 'Show',
    group_by: 'Group by', g_zone: 'Grid', g_responder: 'Worker', g_kind: 'Kind', g_source: 'Source', g_day: 'Day',
    ranking: 'Ranking', rank: 'Rank', grade: 'Grade', opened: 'Opened', due_n: 'Due', closed_n: 'Closed', closed_on_time: 'On time',
    reworked: 'Reworked', extended: 'Extended', suspended_n: 'Suspended', overdue_n: 'Overdue', cancelled_n: 'Cancelled', escalated_n: 'Escalated',
    closure_rate: 'Closure rate', on_time_rate: 'On-time rate', rework_rate: 'Rework rate', extension_rate: 'Extension rate', accept_rate: 'Acceptance rate', offers_accepted: 'Accepted', offers_rejected: 'Rejected', offers_expired: 'Expired',
    offers: 'Offers', rates: 'Rates', counts: 'Counts', phase_times: 'Time per phase', phase: 'Phase', p50: 'Median (p50)', p90: 'p90', n_samples: 'Cases',
    fractile_chart: 'Opened → on scene, by fractile', fractile: 'Fractile', minutes: 'minutes',
    export_csv: 'Download CSV', export_xlsx: 'Download Excel', print: 'Print', generated: 'Generated {at}',
    report_title: 'Dispatch report {period}', reports_unavailable: 'Reports are not available on this server yet.',
    no_data: 'No incidents in this period', loading: 'Loading…', bad_period: 'Choose a start and an end date (start first)',
    no_fractiles: 'No on-scene times in this period', dur_s: '{n} s', dur_min: '{n} min', dur_h: '{h} h {m} min',
    ph_to_first_offer: 'opened → first offer', ph_offer_to_accept: 'offer → accepted', ph_accept_to_on_scene: 'accepted → on scene',
    ph_on_scene_to_resolved: 'on scene → resolved', ph_resolved_to_closed: 'resolved → closed', ph_to_on_scene: 'opened → on scene',
    ph_first_offer: 'alert → first offer', ph_accept: 'offer → accepted', ph_travel: 'accepted → on scene', ph_on_scene: 'opened → on scene',
    ph_resolve: 'on scene → resolved', ph_verify: 'resolved → verified', ph_close: 'resolved → closed', ph_total: 'opened → closed',
  },
  'zh-CN': {
    app: '网格调度', console: '调度台', admin: '系统管理', operator_view: '调度视图',
    login: '登录', logout: '退出', username: '用户名', password: '密码',
    login_failed: '用户名或密码错误', login_locked: '失败次数过多，请 {secs} 秒后重试',
    login_unavailable: '本服务器未启用登录', language: '语言',
    live_on: '实时', live_off: '正在重连…', live_poll: '轮询中',
    queue: '事件队列', no_incidents: '暂无未结事件', new_incident: '新建事件',
    since_alert: '报警', since_offer: '派单', since_accept: '接单',
    due: '处置时限', no_deadline: '无时限', incident_overdue: '已超时', overdue_by: '超时 {time}',
    layers_zones: '网格', layers_cameras: '摄像头', layers_responders: '网格员', layers_incidents: '事件',
    severity: '等级', sev: '{n}级', state: '状态', kind: '类型', zone: '网格', location: '位置', address: '地址',
    description: '描述', created: '报警时间', title: '标题', close: '关闭', note: '备注（写入时间线）',
    assign: '指派', reassign: '改派', cancel_incident: '撤销事件', close_incident: '结案',
    candidates: '候选人员', eta: '预计到达', distance: '距离', in_zone: '本网格', score: '评分',
    no_candidates: '无候选人员（在岗、空闲、定位新）', tasks: '任务', responder: '人员',
    status: '状态', offered_at: '派单时间', timeline: '时间线', alerts: '关联报警', snapshots: '抓拍',
    none: '无', yes: '是', no: '否', actor: '操作者', source: '来源', camera: '摄像头',
    manual_hint: '在地图上点击以放置事件，或输入坐标。', lat: '纬度', lon: '经度',
    create: '创建', cancel: '取消', save: '保存', delete: '删除', edit: '编辑', add: '添加',
    confirm_cancel: '撤销事件 {id}？', confirm_delete: '删除 {what}？', done: '完成',
    sev1_alarm: '一级事件', fix_age: '{age}前定位', no_fix: '无定位', on_duty: '在岗', off_duty: '离岗',
    st_new: '新建', st_dispatching: '派单中', st_assigned: '已接单', st_en_route: '在途',
    st_on_scene: '到场', st_resolved: '已处置', st_closed: '已结案', st_escalated: '已升级', st_cancelled: '已撤销',
    t_offered: '已派单', t_accepted: '已接单', t_rejected: '已拒绝', t_en_route: '在途', t_on_scene: '到场',
    t_resolved: '已处置', t_expired: '已超时', t_withdrawn: '已撤回',
    cam_online: '在线', cam_offline: '离线', cam_unknown: '未知',
    zones: '网格', responders: '网格员', cameras: '摄像头', sources: '报警来源', users: '用户',
    import_geojson: '导入 GeoJSON', export_geojson: '导出 GeoJSON', import_cameras: '导入 CSV/GeoJSON',
    draw_zone: '绘制网格', zone_id: '网格编号', zone_name: '名称', zone_kind: '类别', edit_shape: '编辑形状',
    finish_edit: '完成编辑', id: '编号', name: '名称', travel: '出行方式', skills: '技能', role: '角色',
    reset_password: '重置 MQTT 密码', credentials_once: 'MQTT 登录（仅显示一次）：{user} / {pw}',
    stream_uri: '视频流地址', gb28181_id: '国标编号', disabled: '停用', new_password: '新密码',
    imported: '已导入 {n} 条', saved: '已保存', error: '错误', forbidden: '当前角色无此权限',
    users_unavailable: '本服务器未启用用户管理', create_user: '新建用户',
    draw_first: '请先在地图上绘制网格（多边形工具）。', created_incident: '事件 {id} 已创建',
    severity_help: '1 = 最紧急', open_admin: '系统管理', open_operator: '调度视图',
    coordinates: '坐标', pick_on_map: '地图选点', last_error: '最近错误',
    field_app: '外勤任务', worker_id: '人员编号', sign_in_hint: '使用管理员发放的 MQTT 账号登录。',
    broker: '服务器', connecting: '正在连接…', online: '在线', offline: '离线', no_broker: '本服务器未开启 MQTT WebSocket 监听（mqtt.ws_listen），请联系管理员。',
    bad_login: '人员编号或密码错误', my_tasks: '我的任务', no_tasks: '暂无任务，注意安全。',
    go_on_duty: '上岗', go_off_duty: '离岗', duty_offline: '联网后才能切换在岗状态',
    a_accepted: '接单', a_rejected: '拒绝', a_en_route: '出发', a_on_scene: '到场', a_resolved: '处置完毕',
    reject_reason: '无法接单的原因', resolution_note: '处置情况（备注）', send: '发送', back: '返回',
    respond_within: '请在 {secs} 内响应', overdue: '已超时', navigate: '导航', nav_system: '地图应用',
    nav_amap: '高德地图', nav_baidu: '百度地图', rendezvous: '会合点', incident_at: '事发地点', pending_n: '{n} 条待发送',
    queued: '已保存，联网后自动发送', sent_wait: '已发送，等待调度确认', refused: '未被接受：{reason}',
    closed_withdrawn: '已撤回：{reason}', closed_expired: '已超时：{reason}', closed_resolved: '已处置', resolution_received: '处置结果已送达指挥中心',
    closed_rejected: '已拒绝：{reason}', closed_gone: '该任务已不再指派给你', dismiss: '知道了',
    enable_alerts: '开启提示音和通知', new_task: '新任务：{title}', my_position: '我的位置',
    no_position: '暂无定位（请允许位置权限）', dropped_answer: '“{status}”未发送：任务已关闭',
    your_status: '我的状态', pictures: '{n} 张抓拍', picture_failed: '暂时无法显示抓拍',
    f_rework: '返工', f_rework_reason: '退回返工：{reason}', f_rework_noreason: '指挥中心已退回返工',
    f_verify: '核查', f_verify_intro: '核查 {who} 上报已处置的工作', f_verify_intro_nowho: '核查已上报处置的工作',
    f_resolution_note: '处置说明：{note}', f_resolution_nonote: '处置人未填写说明。', a_verified: '核查通过', a_rework: '退回返工',
    verify_note: '核查情况（可选）',
    verdict_received: '核查结果已送达指挥中心', a_v_accepted: '接受，到现场核查', a_v_rejected: '无法核查',
    f_ask_ext: '申请延期', f_ext_minutes: '延长分钟数', f_min_n: '{n} 分钟', f_ext_reason: '延期原因',
    f_ext_sent: '已提交：申请延长 {minutes} 分钟，等待调度审批', f_ext_pending: '已申请延期 {minutes} 分钟，等待调度审批',
    f_ext_offline: '当前离线，延期申请无法提交，请联网后重试。',
    f_ext_bad_minutes: '分钟数须为 1 至 10080 的整数', f_ext_bad_reason: '请填写原因（不超过 500 字）',
    f_ext_failed: '申请未送达服务器，请重试',
    f_rep_open: '随手拍 · 上报问题', f_rep_title: '随手拍上报', f_rep_note: '问题描述', f_rep_note_hint: '看到了什么，具体在哪里',
    f_rep_photo: '现场照片', f_rep_at: '当前位置：{lat}, {lon}（±{acc} 米）', f_rep_no_position: '尚未获取到位置：请允许定位并稍候',
    f_rep_send: '提交上报', f_rep_sending: '正在提交…', f_rep_sent: '上报已受理：事件 {id}', f_rep_refused: '上报未被受理',
    f_rep_offline: '上报未送达服务器，已保留在本机，请重新提交', f_rep_bad_photo: '照片无法读取，请重拍',
    f_rep_no_kind: '请选择问题类型', f_rep_note_long: '描述过长（最多 2000 字）',
    k_litter: '乱堆乱放', k_road_damage: '道路破损', k_manhole: '井盖缺失', k_fire_lane: '消防通道堵塞', k_parking: '违章停车',
    k_noise: '噪音扰民', k_elderly_help: '老人需要帮助',
    f_ext_approved: '延期已批准：延长 {minutes} 分钟，新办结时限 {due}', f_ext_approved_note: '延期已批准：延长 {minutes} 分钟，新办结时限 {due}（{note}）',
    f_ext_approved_nodue: '延期已批准：延长 {minutes} 分钟', f_ext_approved_nodue_note: '延期已批准：延长 {minutes} 分钟（{note}）',
    f_ext_refused: '延期未批准：{note}', f_ext_refused_nonote: '延期未批准',
    tl_alert_opened: '收到报警 {alert}', tl_alert_linked: '报警 {alert} 并入本事件',
    tl_snapshot: '摄像头 {camera} 抓拍第 {n} 张（{source}）', tl_snapshot_failed: '摄像头 {camera} 抓拍失败：{reason}',
    tl_offered: '派单给 {responders}', tl_assigned: '调度员指派给 {responder}', tl_accepted: '{responder} 已接单',
    tl_rejected: '{responder} 拒绝接单', tl_no_acceptance: '派单 {offers} 次无人接单', tl_no_responder: '暂无可派人员',
    tl_chosen_declined: '调度员指定的人员未接单', tl_closed_unverified: '直接结案：{kind}无需核查',
    tl_no_inspector: '暂无核查员，由调度员核查', tl_inspection_offered: '核查任务派给核查员 {responder}',
    tl_inspection_accepted: '核查员 {responder} 已接核查任务', tl_verified: '核查通过', tl_rework: '退回返工：{reason}',
    tl_rework_offered: '返工派回原处置人 {responder}', tl_suspended: '已缓办', tl_resumed: '恢复办理',
    tl_extension_asked: '{responder} 申请延期 {minutes} 分钟：{reason}', tl_extension_granted: '批准 {responder} 延期 {minutes} 分钟',
    tl_extension_refused: '驳回 {responder} 的延期申请', tl_note: '{text}', tl_with_note: '{text}：{note}', list_sep: '、',
    actor_dispatcher: '系统调度', actor_source: '来源 {id}',
    role_viewer: '查看员', role_operator: '调度员', role_admin: '管理员', open_reports: '统计报表', reports: '统计报表',
    k_medical: '急救', k_fire: '火情', k_fall: '摔倒', k_intrusion: '入侵', k_fight: '打架斗殴', k_flood: '积水',
    k_traffic: '交通事故', k_guidance: '引导', k_alarm: '报警', k_motion: '移动侦测', k_tripwire: '越线',
    k_camera_fault: '摄像头故障', k_device_fault: '设备故障', k_manual_alarm: '手动报警', k_left_object: '物品遗留',
    k_object_removed: '物品移除', k_wrong_way: '逆行', k_loitering: '徘徊', k_crowd: '人员聚集', k_fast_movement: '快速移动',
    st_suspended: '已挂起', dash: '—', eta_est: '预计路程用时', eta_help: '按最近定位估算的路程用时，不是倒计时',
    road_eta: '预计用时', straight_dist: '直线距离', road_dist: '道路距离', eta_straight: '直线',
    eta_road: '按道路', road_eta_help: '按该人员出行方式的道路计算的用时；无道路路线时按直线距离 × 绕行系数估算',
    layers_routes: '任务路线', route_road: '道路路线', route_straight: '无道路路线：直线',
    mode_foot: '步行', mode_bike: '骑行', mode_car: '驾车',
    approx_lt_min: '不到 1 分钟', approx_min: '约 {n} 分钟', approx_h_min: '约 {h} 小时 {m} 分钟',
    act_verify: '核查通过', act_rework: '退回重办', act_suspend: '挂起', act_resume: '恢复办理',
    act_approve: '批准延期', act_refuse: '驳回延期', rework_reason: '退回原因（需重办的理由）',
    reason_required: '请填写原因', ext_pending: '申请延期 {minutes} 分钟', ext_reason: '理由：{reason}',
    ext_minutes: '批准分钟数', not_on_server: '本服务器尚不支持“{what}”', due_at: '办结时限', past_due: '已超期',
    loop_actions: '闭环处置',
    period: '统计周期', this_month: '本月', last_month: '上月', custom: '自定义', from: '开始', to: '结束', show: '查询',
    group_by: '分组', g_zone: '网格', g_responder: '网格员', g_kind: '类型', g_source: '来源', g_day: '日期',
    ranking: '排名', rank: '名次', grade: '评级', opened: '受理', due_n: '应结案', closed_n: '结案', closed_on_time: '按期结案',
    reworked: '返工', extended: '延期', suspended_n: '挂起', overdue_n: '超期', cancelled_n: '撤销', escalated_n: '升级',
    closure_rate: '结案率', on_time_rate: '按期结案率', rework_rate: '返工率', extension_rate: '延期率', accept_rate: '接单率', offers_accepted: '接单', offers_rejected: '拒单', offers_expired: '超时未接',
    offers: '派单数', rates: '比率', counts: '数量', phase_times: '各环节用时', phase: '环节', p50: '中位数（p50）', p90: '90 分位（p90）', n_samples: '件数',
    fractile_chart: '受理到到场用时（分位）', fractile: '分位', minutes: '分钟',
    export_csv: '下载 CSV', export_xlsx: '下载 Excel', print: '打印', generated: '生成于 {at}',
    report_title: '调度统计报表 {period}', reports_unavailable: '本服务器尚未提供统计报表。',
    no_data: '本期无事件', loading: '加载中…', bad_period: '请选择开始和结束日期（开始在前）',
    no_fractiles: '本期无到场记录', dur_s: '{n} 秒', dur_min: '{n} 分钟', dur_h: '{h} 小时 {m} 分钟',
    ph_to_first_offer: '受理 → 首次派单', ph_offer_to_accept: '派单 → 接单', ph_accept_to_on_scene: '接单 → 到场',
    ph_on_scene_to_resolved: '到场 → 处置完毕', ph_resolved_to_closed: '处置 → 结案', ph_to_on_scene: '受理 → 到场',
    ph_first_offer: '报警 → 首次派单', ph_accept: '派单 → 接单', ph_travel: '接单 → 到场', ph_on_scene: '受理 → 到场',
    ph_resolve: '到场 → 处置完毕', ph_verify: '处置 → 核查', ph_close: '处置 → 结案', ph_total: '受理 → 结案',
  },
};

/** Languages offered, with their own names. */
// The merchants', the points area's, redemption's and the audit view's strings live in their
// own files (i18n-merchants.js, i18n-points.js, i18n-redeem.js, i18n-audit.js).
for (const l of Object.keys(STRINGS)) Object.assign(STRINGS[l], MERCHANT_STRINGS[l], POINTS_STRINGS[l], REDEEM_STRINGS[l], AUDIT_STRINGS[l]);

export const LANGUAGES = [['zh-CN', '中文'], ['en', 'English']];

function initial() {
  if (typeof localStorage === 'undefined') return 'en'; // node's test runner
  const saved = localStorage.getItem('gd_lang');
  if (saved && STRINGS[saved]) return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let lang = initial();
const listeners = [];

/** The current language code. */
export function currentLang() { return lang; }

/** The text for `key` in the current language, with `{name}` filled from `vars`. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? `{${k}}`));
}

/** Whether `key` has a text (in the current language or English). */
export function hasKey(key) { return key in STRINGS[lang] || key in STRINGS.en; }

/** Fills `[data-i18n]` texts and `[data-i18n-placeholder]`/`[data-i18n-title]` attributes. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

/** Switches language, re-renders static texts and tells listeners to re-render theirs. */
export function setLang(l) {
  if (!STRINGS[l]) return;
  lang = l;
  if (typeof localStorage !== 'undefined') localStorage.setItem('gd_lang', l);
  if (typeof document !== 'undefined') applyI18n();
  for (const f of listeners) f(l);
}

/** Calls `f` after every language switch. */
export function onLangChange(f) { listeners.push(f); }

/** Every key, per language (for the completeness test). */
export const ALL_STRINGS = STRINGS;
