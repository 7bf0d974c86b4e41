// zh-CN and en strings of the 喜邻 merchants and grid stations (issue 15): the merchant
// page, the console's merchants layer and the admin's merchants tab. Merged into i18n.js's
// table, so `t()` finds them like any other key.

export const MERCHANT_STRINGS = {
  en: {
    layers_merchants: 'Merchants & stations', merchants: 'Merchants', merchant: 'Merchant',
    merchant_page: 'Merchant', station: 'Grid station', station_short: 'Station', shop: 'Partner shop',
    hours: 'Opening hours', offer_list: 'Offers', offers_n: '{n} offer(s)', no_offers: 'No offers yet',
    points: 'Points', points_n: '{n} points', stock: 'Stock', stock_unlimited: 'unlimited',
    per_person: 'Per person', valid_until: 'Valid until', active: 'Active', inactive: 'withdrawn',
    register_merchant: 'Register merchant', add_offer: 'Add offer', offer_title: 'Offer',
    merchant_login_once: 'Merchant login (shown once, write it down): {user} / {pw}',
    confirm_code: 'Confirm a code', code: 'Code', confirm: 'Confirm',
    merchant_only: 'This page is for 喜邻 partner merchants; sign in with your merchant login.',
    my_shop: 'My shop', station_based: 'Based at station',
  },
  'zh-CN': {
    layers_merchants: '喜邻商户与驿站', merchants: '喜邻商户', merchant: '商户',
    merchant_page: '商户', station: '网格驿站', station_short: '驿站', shop: '合作商户',
    hours: '营业时间', offer_list: '兑换项目', offers_n: '{n} 个兑换项目', no_offers: '暂无兑换项目',
    points: '积分', points_n: '{n} 积分', stock: '库存', stock_unlimited: '不限',
    per_person: '每人限兑', valid_until: '有效期至', active: '上架', inactive: '已下架',
    register_merchant: '登记商户', add_offer: '添加兑换项目', offer_title: '兑换项目',
    merchant_login_once: '商户登录账号(仅显示一次，请记下)：{user} / {pw}',
    confirm_code: '核销兑换码', code: '兑换码', confirm: '确认核销',
    merchant_only: '此页面供喜邻合作商户使用，请用商户账号登录。',
    my_shop: '我的店铺', station_based: '所属驿站',
  },
};
