// The merchant page (/merchant), for a 喜邻 partner merchant's own login, usable on a
// phone: its shop's details and its offers, and (merchant-confirm.js) confirming a
// volunteer's one-time code, today's redemptions and the monthly settlement.
import { api, apiAll, h, when, t, applyI18n, onLangChange } from './common.js';
import { setLang, currentLang, LANGUAGES } from './i18n.js';
import { offerDetails } from './merchants-core.js';
import { bindConfirm } from './merchant-confirm.js';

const sel = document.getElementById('lang');
sel.replaceChildren(...LANGUAGES.map(([code, label]) => h('option', { value: code, selected: code === currentLang() }, label)));
sel.addEventListener('change', () => setLang(sel.value));
document.getElementById('logout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
  location.assign('/login?next=/merchant');
});

let me;
try { me = await api('GET', '/api/v1/session'); } catch { location.assign('/login?next=/merchant'); throw new Error('no session'); }

let shop = null;
let offers = [];

function render() {
  const box = document.getElementById('shop');
  const list = document.getElementById('offers');
  if (!shop) {
    box.replaceChildren(h('p.muted#not-merchant', {}, t('merchant_only')));
    list.replaceChildren();
    applyI18n();
    return;
  }
  box.replaceChildren(...[
    h('h2', {}, t('my_shop')),
    h('p.shop-name', { dataset: { merchant: shop.id } }, shop.name,
      h(`span.badge${shop.station ? '' : '.shop'}`, {}, t(shop.station ? 'station' : 'shop'))),
    h('p.muted', {}, shop.address),
    shop.hours ? h('p.muted', {}, `${t('hours')}: ${shop.hours}`) : null,
  ].filter(Boolean));
  list.replaceChildren(...(offers.length ? offers.map((o) => h(`li${o.active ? '' : '.inactive'}`, { dataset: { offer: o.id } },
    h('div.offer-title', {}, o.title),
    h('div.offer-details', {}, offerDetails(o, t, when)))) : [h('li.muted', {}, t('no_offers'))]));
  applyI18n();
}

if (me.role === 'merchant' && me.merchant_id) {
  const id = encodeURIComponent(me.merchant_id);
  [shop, offers] = await Promise.all([api('GET', `/api/v1/merchants/${id}`), apiAll(`/api/v1/merchants/${id}/offers`)]);
}
let confirmPart = null;
if (shop) {
  confirmPart = bindConfirm(shop.id, async () => {
    offers = await apiAll(`/api/v1/merchants/${encodeURIComponent(shop.id)}/offers`).catch(() => offers);
    render();
  });
}
else document.getElementById('confirm-section').hidden = true;
onLangChange(() => { render(); if (confirmPart) confirmPart.render(); });
render();
