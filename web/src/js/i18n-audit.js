// zh-CN and en strings of the admin's audit log view (issue 17, admin-audit.js). Merged into
// i18n.js's table, so `t()` finds them like any other key.

export const AUDIT_STRINGS = {
  en: {
    audit: 'Audit log', au_kind: 'Thing kind', au_id: 'Thing id', au_actor: 'Actor', au_action: 'Action',
    au_address: 'Address', au_from: 'From', au_to: 'To (included)', au_search: 'Search', au_csv: 'Download CSV',
    au_more: 'More', au_all_shown: 'All entries shown', au_none: 'No entries match these filters', au_any: 'any',
    au_time: 'Time', au_thing: 'Thing', au_status: 'Status', au_field: 'Field', au_before: 'Before', au_after: 'After',
    au_no_before: '(nothing: created here)', au_no_after: '(nothing: deleted here)', au_no_change: 'No before or after recorded',
    au_only_changed: 'Changed fields only', au_request: 'Request', au_role: 'Role', au_params: 'Parameters',
    au_chars: '{n} characters', au_history: 'History', au_history_of: 'History of {what}', au_shown: 'Entries shown: {n}',
    au_action_hint: 'e.g. zones.replace, or zones. for all', au_actor_hint: 'e.g. admin:alice', au_expand: 'Click a row to see before and after',
    au_k_zones: 'Zones', au_k_responders: 'Responders', au_k_sources: 'Alert sources', au_k_cameras: 'Cameras',
    au_k_users: 'Users', au_k_incidents: 'Incidents', au_k_merchants: 'Merchants', au_k_offers: 'Offers',
    au_k_redemptions: 'Redemptions', au_k_awards: 'Point awards', au_k_session: 'Sign-in', au_k_settings: 'Settings',
    au_k_audit: 'Audit log',
  },
  'zh-CN': {
    audit: '审计日志', au_kind: '对象类型', au_id: '对象编号', au_actor: '操作者', au_action: '操作',
    au_address: '来源地址', au_from: '开始日期', au_to: '结束日期（含）', au_search: '查询', au_csv: '下载 CSV',
    au_more: '加载更多', au_all_shown: '已全部显示', au_none: '没有符合条件的记录', au_any: '全部',
    au_time: '时间', au_thing: '对象', au_status: '结果', au_field: '字段', au_before: '变更前', au_after: '变更后',
    au_no_before: '（无：此次新建）', au_no_after: '（无：此次删除）', au_no_change: '此条未记录变更前后的内容',
    au_only_changed: '只看有变化的字段', au_request: '请求', au_role: '角色', au_params: '请求参数',
    au_chars: '{n} 个字符', au_history: '历史', au_history_of: '{what} 的变更历史', au_shown: '已显示 {n} 条',
    au_action_hint: '如 zones.replace；zones. 表示网格的全部操作', au_actor_hint: '如 admin:alice', au_expand: '点击一行查看变更前后对比',
    au_k_zones: '网格', au_k_responders: '网格员', au_k_sources: '报警来源', au_k_cameras: '摄像头',
    au_k_users: '用户', au_k_incidents: '事件', au_k_merchants: '喜邻商户', au_k_offers: '兑换项目',
    au_k_redemptions: '积分兑换', au_k_awards: '积分奖励', au_k_session: '登录', au_k_settings: '系统设置',
    au_k_audit: '审计日志',
  },
};
