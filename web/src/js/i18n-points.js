// zh-CN and en strings of volunteer points and redemption (issue 15): the field app's
// points view and the merchant page's confirmation. Merged into i18n.js's table, so `t()`
// finds them like any other key.

export const POINTS_STRINGS = {
  en: {
    pt_open: 'Points', pt_title: 'My points', pt_balance: 'Balance', pt_reserved: '{n} reserved for codes not yet used',
    pt_history: 'History', pt_no_history: 'No points yet.', pt_catalogue: 'Offers, nearest first', pt_no_offers: 'No offers now.',
    pt_redeem: 'Redeem', pt_redeeming: 'Redeeming…', pt_code_title: 'Show this code at the shop',
    pt_code_left: 'Valid for {m}:{s}', pt_code_expired: 'This code expired; its points are back in your balance.',
    pt_code_done: 'Done', pt_refused: 'Not redeemed', pt_offline: 'No connection: try again, it will be the same redemption.',
    pt_away: '{d} away', pt_load_failed: 'Could not load points',
    pt_kind_earn: 'Earned', pt_kind_award: 'Honour award', pt_kind_reserve: 'Reserved for a code', pt_kind_release: 'Code expired, returned',
    pt_kind_redeem: 'Redeemed', pt_kind_expire: 'Expired', pt_kind_correct: 'Correction',
    rd_confirm_hint: 'Type the 8-digit code from the volunteer\u2019s phone, or scan its QR code.',
    rd_scan: 'Scan QR code', rd_scan_stop: 'Stop scanning',
    rd_scan_none: 'This browser cannot read QR codes: type the code instead.',
    rd_ok: 'Confirmed: {offer}, {points} points.', rd_used: 'Already used: this code was confirmed before.',
    rd_expired: 'Expired: the code lapsed and its points went back to the volunteer.',
    rd_not_ours: 'Not found: no such code for this shop (wrong digits, or another shop\u2019s code).',
    rd_locked: 'Too many wrong codes: wait {s} s.', rd_bad_code: 'A code is 8 digits.',
    rd_today: 'Today\u2019s redemptions', rd_none_today: 'None yet today.', rd_settlement: 'Monthly settlement',
    rd_state_pending: 'waiting', rd_state_confirmed: 'confirmed', rd_state_expired: 'expired', rd_state_released: 'released',
  },
  'zh-CN': {
    pt_open: '积分', pt_title: '我的积分', pt_balance: '可用积分', pt_reserved: '{n} 分已为兑换码冻结',
    pt_history: '积分明细', pt_no_history: '还没有积分。', pt_catalogue: '可兑换项目(由近到远)', pt_no_offers: '暂无可兑换项目。',
    pt_redeem: '兑换', pt_redeeming: '兑换中…', pt_code_title: '请在店内出示此兑换码',
    pt_code_left: '有效时间 {m}:{s}', pt_code_expired: '兑换码已过期，积分已退回。',
    pt_code_done: '完成', pt_refused: '未能兑换', pt_offline: '网络不通：请重试，不会重复兑换。',
    pt_away: '距离 {d}', pt_load_failed: '积分加载失败',
    pt_kind_earn: '服务积分', pt_kind_award: '荣誉奖励', pt_kind_reserve: '兑换冻结', pt_kind_release: '兑换码过期退回',
    pt_kind_redeem: '已兑换', pt_kind_expire: '积分过期', pt_kind_correct: '更正',
    rd_confirm_hint: '输入志愿者手机上的 8 位兑换码，或扫描其二维码。',
    rd_scan: '扫描二维码', rd_scan_stop: '停止扫描',
    rd_scan_none: '此浏览器不支持识别二维码，请手动输入兑换码。',
    rd_ok: '核销成功：{offer}，{points} 积分。', rd_used: '已使用：此兑换码之前已核销。',
    rd_expired: '已过期：兑换码已失效，积分已退回志愿者。',
    rd_not_ours: '未找到：本店没有此兑换码(数字有误，或是其他商户的兑换码)。',
    rd_locked: '错误次数过多，请 {s} 秒后再试。', rd_bad_code: '兑换码为 8 位数字。',
    rd_today: '今日核销', rd_none_today: '今天还没有兑换。', rd_settlement: '月度结算',
    rd_state_pending: '待核销', rd_state_confirmed: '已核销', rd_state_expired: '已过期', rd_state_released: '已退回',
  },
};
