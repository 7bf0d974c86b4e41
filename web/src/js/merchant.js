// The merchant page (/merchant), for a 喜邻 partner merchant's own login, usable on a
// phone: its shop's details and its offers. Confirming a volunteer's code comes with
// redemption; its form is in the page, disabled until then (see merchant.html).
import { api, h, when, t, applyI18n, onLangChange } from './common.js';
import { setLang, currentLang, LANGUAGES } from './i18n.js';
import { offerDetails } from './merchants-core.js';

const sel = document.getElementById('lang');
sel.replaceChildren(...LANGUAGES.map(([code, label]) => h('option', { value: code, selected: code === currentLang() }, label)));
sel.addEventListener('change', () => setLang(sel.value));
document.getElementById('logout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
  location.assign('/login?next=/merchant');
});
document.getElementById('confirm-code').addEventListener('submit', (e) => e.preventDefault());

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
  box.replaceChildren(
    h('h2', {}, t('my_shop')),
    h('p.shop-name', { dataset: { merchant: shop.id } }, shop.name,
      h(`span.badge${shop.station ? '' : '.shop'}`, {}, t(shop.station ? 'station' : 'shop'))),
    h('p.muted', {}, shop.address),
    shop.hours ? h('p.muted', {}, `${t('hours')}: ${shop.hours}`) : null,
  );
  list.replaceChildren(...(offers.length ? offers.map((o) => h(`li${o.active ? '' : '.inactive'}`, { dataset: { offer: o.id } },
    h('div.offer-title', {}, o.title),
    h('div.offer-details', {}, offerDetails(o, t, when)))) : [h('li.muted', {}, t('no_offers'))]));
  applyI18n();
}

if (me.role === 'merchant' && me.merchant_id) {
  const id = encodeURIComponent(me.merchant_id);
  [shop, offers] = await Promise.all([api('GET', `/api/v1/merchants/${id}`), api('GET', `/api/v1/merchants/${id}/offers`)]);
}
onLangChange(render);
render();
