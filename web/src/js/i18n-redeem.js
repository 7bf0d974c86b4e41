// zh-CN and en strings of redemption (issue 15): the field app's points view (`fp_`) and
// the merchant page's confirmation (`rd_`). Merged into i18n.js's table, so `t()` finds
// them like any other key; the prefixes keep them apart from i18n-points.js (the console).

export const REDEEM_STRINGS = {
  en: {
    fp_open: 'Points', fp_title: 'My points', fp_balance: 'Balance', fp_reserved: '{n} reserved for codes not yet used',
    fp_history: 'History', fp_no_history: 'No points yet.', fp_catalogue: 'Offers, nearest first', fp_no_offers: 'No offers now.',
    fp_redeem: 'Redeem', fp_redeeming: 'Redeeming…', fp_code_title: 'Show this code at the shop',
    fp_code_left: 'Valid for {m}:{s}', fp_code_expired: 'This code expired; its points are back in your balance.',
    fp_code_done: 'Done', fp_refused: 'Not redeemed', fp_offline: 'No connection: try again, it will be the same redemption.',
    fp_away: '{d} away', fp_load_failed: 'Could not load points',
    fp_kind_earn: 'Earned', fp_kind_award: 'Honour award', fp_kind_reserve: 'Reserved for a code', fp_kind_release: 'Code expired, returned',
    fp_kind_redeem: 'Redeemed', fp_kind_expire: 'Expired', fp_kind_correct: 'Correction',
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
    fp_open: '积分', fp_title: '我的积分', fp_balance: '可用积分', fp_reserved: '{n} 分已为兑换码冻结',
    fp_history: '积分明细', fp_no_history: '还没有积分。', fp_catalogue: '可兑换项目(由近到远)', fp_no_offers: '暂无可兑换项目。',
    fp_redeem: '兑换', fp_redeeming: '兑换中…', fp_code_title: '请在店内出示此兑换码',
    fp_code_left: '有效时间 {m}:{s}', fp_code_expired: '兑换码已过期，积分已退回。',
    fp_code_done: '完成', fp_refused: '未能兑换', fp_offline: '网络不通：请重试，不会重复兑换。',
    fp_away: '距离 {d}', fp_load_failed: '积分加载失败',
    fp_kind_earn: '服务积分', fp_kind_award: '荣誉奖励', fp_kind_reserve: '兑换冻结', fp_kind_release: '兑换码过期退回',
    fp_kind_redeem: '已兑换', fp_kind_expire: '积分过期', fp_kind_correct: '更正',
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
