// The admin's merchants tab: register a 喜邻 merchant (its login is shown once), list the
// merchants and stations, and add offers to one. Clicking the map fills the position.
import { api, apiAll, h, toast, t, when } from './common.js';
import { merchantBody, offerBody, offerDetails } from './merchants-core.js';

let lastLogin = null;
let chosen = null;

/** The merchant form's position from a map click (WGS-84). */
export function fillPosition(pos) {
  const form = document.getElementById('merchant-form');
  if (!form) return;
  form.lat.value = pos.lat.toFixed(6);
  form.lon.value = pos.lon.toFixed(6);
}

/** The tab's content; `rerender()` draws the tab again. */
export async function merchantsPane(rerender) {
  const list = await apiAll('/api/v1/merchants');
  if (chosen && !list.some((m) => m.id === chosen)) chosen = null;
  chosen = chosen || list[0]?.id || null;
  const form = h('form.formrow#merchant-form', {},
    h('label', {}, t('id'), h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9_.:-]{1,64}' })),
    h('label', {}, t('name'), h('input', { name: 'name', required: true })),
    h('label', {}, t('address'), h('input', { name: 'address', required: true })),
    h('label', {}, t('lat'), h('input', { name: 'lat', required: true })),
    h('label', {}, t('lon'), h('input', { name: 'lon', required: true })),
    h('label', {}, t('hours'), h('input', { name: 'hours', placeholder: '08:00-21:00' })),
    h('label', {}, h('input', { type: 'checkbox', name: 'station' }), t('station')),
    h('button.primary#merchant-submit', { type: 'submit' }, t('register_merchant')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = merchantBody({ id: form.id.value, name: form.name.value, address: form.address.value, lat: form.lat.value, lon: form.lon.value, hours: form.hours.value, station: form.station.checked });
    try {
      const r = await api('POST', '/api/v1/merchants', body);
      lastLogin = r.login; chosen = r.id; rerender();
    } catch (x) { toast(x.message, 'error'); }
  });
  const login = lastLogin; lastLogin = null;
  const offers = chosen ? await apiAll(`/api/v1/merchants/${encodeURIComponent(chosen)}/offers`) : [];
  const offerForm = h('form.formrow#offer-form', {},
    h('label', {}, t('merchant'), h('select', { name: 'merchant', onchange: (e) => { chosen = e.target.value; rerender(); } },
      list.map((m) => h('option', { value: m.id, selected: m.id === chosen }, `${m.name} (${m.id})`)))),
    h('label', {}, t('id'), h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9_.:-]{1,64}' })),
    h('label', {}, t('offer_title'), h('input', { name: 'title', required: true, maxlength: '200' })),
    h('label', {}, t('points'), h('input', { name: 'points', required: true, inputmode: 'numeric' })),
    h('label', {}, t('stock'), h('input', { name: 'stock', inputmode: 'numeric', placeholder: t('stock_unlimited') })),
    h('label', {}, t('per_person'), h('input', { name: 'per_person_limit', inputmode: 'numeric' })),
    h('button.primary#offer-submit', { type: 'submit', disabled: !chosen }, t('add_offer')));
  offerForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = offerBody({ id: offerForm.id.value, title: offerForm.title.value, points: offerForm.points.value, stock: offerForm.stock.value, per_person_limit: offerForm.per_person_limit.value });
    try {
      await api('POST', `/api/v1/merchants/${encodeURIComponent(chosen)}/offers`, body);
      toast(t('saved')); rerender();
    } catch (x) { toast(x.message, 'error'); }
  });
  return [
    form,
    login ? h('div.creds#merchant-login', {}, t('merchant_login_once', { user: login.username, pw: login.password })) : null,
    h('table', {}, h('thead', {}, h('tr', {}, [t('id'), t('name'), t('station_short'), t('hours'), t('offer_list'), ''].map((x) => h('th', {}, x)))),
      h('tbody', {}, list.map((m) => h('tr', { dataset: { merchant: m.id } }, h('td', {}, m.id), h('td', {}, m.name),
        h('td', {}, m.station ? '✓' : ''), h('td', {}, m.hours || ''), h('td', {}, String(m.offers)),
        h('td', {}, h('button.small.danger', { onclick: async () => {
          if (!confirm(t('confirm_delete', { what: m.id }))) return;
          try { await api('DELETE', `/api/v1/merchants/${encodeURIComponent(m.id)}`); rerender(); } catch (x) { toast(x.message, 'error'); }
        } }, t('delete'))))))),
    h('h3', {}, t('offer_list')),
    offerForm,
    h('ul.offer-rows', {}, offers.map((o) => h('li', { dataset: { offer: o.id } }, `${o.title} — ${offerDetails(o, t, when)}`))),
  ];
}
