// The admin view: zones drawn and edited on the map (Leaflet-Geoman), GeoJSON import and
// export; responders; cameras (with CSV/GeoJSON import); alert sources; users; 喜邻 merchants
// (admin-merchants.js); the audit log (admin-audit.js), which `#audit?…` in the address opens.
import { api, apiAll, h, text, toast, requireSession, header, t, applyI18n, onLangChange, when } from './common.js';
import { createMap, zoneStyle, fitTo } from './map.js';
import { merchantsPane, fillPosition } from './admin-merchants.js';
import { auditPane, showAudit } from './admin-audit.js';
import { auditHash, filtersFromHash } from './audit-core.js';

const L = window.L;
const user = await requireSession();
if (user.role !== 'admin') location.assign('/');
header(user, 'admin');
const cfg = await api('GET', '/api/v1/console/config');
const M = createMap(document.getElementById('map'), cfg.tiles, { basemap: cfg.basemap });
M.map.pm.setLang(document.documentElement.lang.startsWith('zh') ? 'zh' : 'en');
M.map.pm.addControls({ position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false });
const zonesLayer = L.geoJSON(null, { style: zoneStyle });
zonesLayer.addTo(M.map);
const camLayer = L.layerGroup().addTo(M.map);
let zones = { type: 'FeatureCollection', features: [] };
let drawn = null; // the polygon drawn and not saved yet
let tab = 'zones';

const TABS = ['zones', 'responders', 'cameras', 'sources', 'users', 'merchants', 'audit'];
function tabs() {
  document.getElementById('tabs').replaceChildren(...TABS.map((k) => h(`button${tab === k ? '.active' : ''}`, { dataset: { tab: k }, onclick: () => {
    tab = k;
    // The address names the audit view's filters only while it is shown.
    if (k !== 'audit' && location.hash) history.replaceState(null, '', location.pathname);
    render();
  } }, t(k))));
}

/** Opens the audit tab when the address is an `#audit?…` link (a zone's history). */
function auditFromAddress() {
  const filters = filtersFromHash(location.hash);
  if (!filters) return false;
  showAudit(filters);
  tab = 'audit';
  return true;
}
window.addEventListener('hashchange', () => { if (auditFromAddress()) render(); });

async function loadZones() {
  zones = await apiAll('/api/v1/zones');
  zonesLayer.clearLayers();
  for (const f of zones.features) {
    const layer = L.geoJSON(M.geoToMap(f), { style: zoneStyle }).getLayers()[0];
    if (!layer) continue;
    layer.feature = f;
    layer.bindTooltip(text(`${f.properties.name || ''} (${f.properties.id})`), { sticky: true });
    layer.on('pm:edit', () => { layer._dirty = true; });
    zonesLayer.addLayer(layer);
  }
}

function download(name, text, type) {
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a); a.click(); a.remove();
}

function pickFile(accept, onText) {
  const input = h('input', { type: 'file', accept, onchange: async () => { const f = input.files[0]; if (f) onText(await f.text(), f.name); } });
  input.click();
}

M.map.on('pm:create', (e) => {
  if (drawn) drawn.remove();
  drawn = e.layer;
  tab = 'zones';
  render();
  document.querySelector('#zone-form input[name=id]')?.focus();
});

/** The zone's Feature from a layer, in WGS-84. */
function featureOf(layer, props) {
  return { type: 'Feature', properties: props, geometry: M.geoFromMap(layer.toGeoJSON().geometry) };
}

function zonesPane() {
  const form = h('form.formrow#zone-form', {},
    h('label', {}, t('zone_id'), h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9_.:-]{1,64}' })),
    h('label', {}, t('zone_name'), h('input', { name: 'name', required: true })),
    h('label', {}, t('zone_kind'), h('select', { name: 'kind' }, h('option', { value: 'grid' }, 'grid'), h('option', { value: 'beat' }, 'beat'))),
    h('button.primary', { type: 'submit' }, t('save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!drawn) { toast(t('draw_first'), 'error'); return; }
    try {
      await api('POST', '/api/v1/zones', featureOf(drawn, { id: form.id.value.trim(), name: form.name.value.trim(), kind: form.kind.value }));
      drawn.remove(); drawn = null;
      toast(t('saved')); await loadZones(); render();
    } catch (x) { toast(x.message, 'error'); }
  });
  return [
    h('div.toolbar', {},
      h('button#zones-export', { onclick: () => download('zones.geojson', JSON.stringify(zones, null, 2), 'application/geo+json') }, t('export_geojson')),
      h('button#zones-import', { onclick: () => pickFile('.geojson,.json', async (text) => {
        try { const r = await api('POST', '/api/v1/zones/import', JSON.parse(text)); toast(t('imported', { n: r.imported })); await loadZones(); fitTo(M.map, zonesLayer); render(); } catch (x) { toast(x.message, 'error'); }
      }) }, t('import_geojson'))),
    h('p.muted', {}, t('draw_zone'), ': ', t('draw_first')),
    form,
    h('table', {}, h('tbody', {}, zonesLayer.getLayers().map((layer) => {
      const p = layer.feature.properties;
      return h('tr', { dataset: { zone: p.id } }, h('td', {}, p.id), h('td', {}, p.name || ''), h('td', {}, p.kind || ''),
        h('td', {}, h('button.small', { onclick: (e) => {
          if (layer.pm.enabled()) {
            layer.pm.disable();
            api('PUT', `/api/v1/zones/${encodeURIComponent(p.id)}`, featureOf(layer, p)).then(() => { toast(t('saved')); loadZones().then(render); }, (x) => toast(x.message, 'error'));
          } else { layer.pm.enable(); M.map.fitBounds(layer.getBounds()); e.target.textContent = t('finish_edit'); }
        } }, t('edit_shape')),
        h('button.small.danger', { onclick: async () => { if (!confirm(t('confirm_delete', { what: p.id }))) return; try { await api('DELETE', `/api/v1/zones/${encodeURIComponent(p.id)}`); await loadZones(); render(); } catch (x) { toast(x.message, 'error'); } } }, t('delete')),
        h('a.small.history', { href: auditHash({ target_kind: 'zones', target_id: p.id }), title: t('au_history_of', { what: p.id }) }, t('au_history'))));
    }))),
  ];
}

function credsBox(mqtt) {
  return h('div.creds', {}, t('credentials_once', { user: mqtt.username, pw: mqtt.password }));
}

let lastCreds = null;
async function respondersPane() {
  const [list, shops] = await Promise.all([apiAll('/api/v1/responders'), apiAll('/api/v1/merchants').catch(() => [])]);
  // 喜邻 grid stations a responder may be based at.
  const stations = shops.filter((m) => m.station);
  const stationOptions = (current) => [h('option', { value: '' }, '—'), ...stations.map((m) => h('option', { value: m.id, selected: m.id === current }, m.name))];
  const form = h('form.formrow#responder-form', {},
    h('label', {}, t('id'), h('input', { name: 'id', required: true })),
    h('label', {}, t('name'), h('input', { name: 'name', required: true })),
    h('label', {}, t('kind'), h('select', { name: 'kind' }, ['grid_worker', 'patrol', 'volunteer'].map((k) => h('option', { value: k }, k)))),
    h('label', {}, t('travel'), h('select', { name: 'travel' }, ['foot', 'bike', 'car'].map((k) => h('option', { value: k }, k)))),
    h('label', {}, t('zone'), h('select', { name: 'zone_id' }, h('option', { value: '' }, '—'), zones.features.map((f) => h('option', { value: f.properties.id }, f.properties.id)))),
    h('label', {}, t('station_based'), h('select', { name: 'station_id' }, stationOptions(null))),
    h('button.primary', { type: 'submit' }, t('add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('POST', '/api/v1/responders', { id: form.id.value.trim(), name: form.name.value.trim(), kind: form.kind.value, travel: form.travel.value, zone_id: form.zone_id.value || undefined, station_id: form.station_id.value || undefined, on_duty: true });
      lastCreds = r.mqtt; render();
    } catch (x) { toast(x.message, 'error'); }
  });
  const creds = lastCreds; lastCreds = null;
  return [form, creds ? credsBox(creds) : null,
    h('table', {}, h('thead', {}, h('tr', {}, [t('id'), t('name'), t('kind'), t('zone'), t('on_duty'), ''].map((x) => h('th', {}, x)))),
      h('tbody', {}, list.map((r) => h('tr', { dataset: { responder: r.id } }, h('td', {}, r.id),
        h('td', {}, h('input', { value: r.name, onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { name: e.target.value }) })),
        h('td', {}, h('select', { 'aria-label': t('kind'), onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { kind: e.target.value }) }, ['grid_worker', 'patrol', 'volunteer'].map((k) => h('option', { value: k, selected: k === r.kind }, k))),
          h('select', { 'aria-label': t('travel'), onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { travel: e.target.value }) }, ['foot', 'bike', 'car'].map((k) => h('option', { value: k, selected: k === r.travel }, k)))),
        h('td', {}, h('select', { 'aria-label': t('zone'), onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { zone_id: e.target.value || null }) },
          h('option', { value: '' }, '—'), zones.features.map((f) => h('option', { value: f.properties.id, selected: f.properties.id === r.zone_id }, f.properties.id))),
          h('select', { 'aria-label': t('station_based'), onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { station_id: e.target.value || null }) }, stationOptions(r.station_id))),
        h('td', {}, h('input', { type: 'checkbox', checked: !!r.on_duty, onchange: (e) => patch(`/api/v1/responders/${encodeURIComponent(r.id)}`, { on_duty: e.target.checked }) })),
        h('td', {}, h('button.small', { onclick: async () => { try { const x = await api('POST', `/api/v1/responders/${encodeURIComponent(r.id)}/reset-password`); lastCreds = x.mqtt; render(); } catch (er) { toast(er.message, 'error'); } } }, t('reset_password')),
          h('button.small.danger', { onclick: () => del(`/api/v1/responders/${encodeURIComponent(r.id)}`, r.id) }, t('delete')))))))];
}

async function patch(path, body) {
  try { await api('PATCH', path, body); toast(t('saved')); } catch (x) { toast(x.message, 'error'); render(); }
}
async function del(path, what) {
  if (!confirm(t('confirm_delete', { what }))) return;
  try { await api('DELETE', path); render(); } catch (x) { toast(x.message, 'error'); }
}

async function camerasPane() {
  const list = await apiAll('/api/v1/cameras');
  camLayer.clearLayers();
  for (const c of list) camLayer.addLayer(L.marker(M.toMap(c.lat, c.lon), { icon: L.divIcon({ className: `cam-icon cam-${c.status || 'unknown'}`, html: '<span>▲</span>', iconSize: [14, 14] }) }).bindTooltip(text(`${c.name} (${c.id})`)));
  const form = h('form.formrow#camera-form', {},
    h('label', {}, t('id'), h('input', { name: 'id', required: true })),
    h('label', {}, t('name'), h('input', { name: 'name', required: true })),
    h('label', {}, t('lat'), h('input', { name: 'lat', required: true })),
    h('label', {}, t('lon'), h('input', { name: 'lon', required: true })),
    h('label', {}, t('stream_uri'), h('input', { name: 'stream_uri' })),
    h('label', {}, t('gb28181_id'), h('input', { name: 'gb28181_id' })),
    h('button.primary', { type: 'submit' }, t('add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/cameras', { id: form.id.value.trim(), name: form.name.value.trim(), lat: Number(form.lat.value), lon: Number(form.lon.value), stream_uri: form.stream_uri.value.trim() || undefined, gb28181_id: form.gb28181_id.value.trim() || undefined });
      toast(t('saved')); render();
    } catch (x) { toast(x.message, 'error'); }
  });
  return [
    h('div.toolbar', {}, h('button#cameras-import', { onclick: () => pickFile('.csv,.geojson,.json', async (text, name) => {
      try {
        const json = name.endsWith('.csv') ? undefined : JSON.parse(text);
        const r = json ? await api('POST', '/api/v1/cameras/import', json) : await api('POST', '/api/v1/cameras/import', text, 'text/csv');
        toast(t('imported', { n: r.imported })); render();
      } catch (x) { toast(x.body?.errors ? x.body.errors.slice(0, 5).map((er) => `#${er.row}: ${er.error}`).join('; ') : x.message, 'error'); }
    }) }, t('import_cameras'))),
    form,
    h('table', {}, h('thead', {}, h('tr', {}, [t('id'), t('name'), t('status'), t('stream_uri'), ''].map((x) => h('th', {}, x)))),
      h('tbody', {}, list.map((c) => h('tr', { dataset: { camera: c.id } }, h('td', {}, c.id),
        h('td', {}, h('input', { value: c.name, onchange: (e) => patch(`/api/v1/cameras/${encodeURIComponent(c.id)}`, { name: e.target.value }) })),
        h('td', { title: c.last_error || '' }, t(`cam_${c.status || 'unknown'}`)),
        h('td', {}, h('input', { value: c.stream_uri || '', onchange: (e) => patch(`/api/v1/cameras/${encodeURIComponent(c.id)}`, { stream_uri: e.target.value.trim() || null }) })),
        h('td', {}, h('button.small.danger', { onclick: () => del(`/api/v1/cameras/${encodeURIComponent(c.id)}`, c.id) }, t('delete'))))))),
  ];
}

async function sourcesPane() {
  const list = await apiAll('/api/v1/sources');
  const form = h('form.formrow#source-form', {},
    h('label', {}, t('id'), h('input', { name: 'id', required: true })),
    h('label', {}, t('name'), h('input', { name: 'name', required: true })),
    h('button.primary', { type: 'submit' }, t('add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { const r = await api('POST', '/api/v1/sources', { id: form.id.value.trim(), name: form.name.value.trim() }); lastCreds = r.mqtt; render(); } catch (x) { toast(x.message, 'error'); }
  });
  const creds = lastCreds; lastCreds = null;
  return [form, creds ? credsBox(creds) : null, h('table', {}, h('tbody', {}, list.map((s) => h('tr', {}, h('td', {}, s.id), h('td', {}, s.name),
    h('td', {}, h('button.small', { onclick: async () => { try { const x = await api('POST', `/api/v1/sources/${encodeURIComponent(s.id)}/reset-password`); lastCreds = x.mqtt; render(); } catch (er) { toast(er.message, 'error'); } } }, t('reset_password')))))))];
}

async function usersPane() {
  let list;
  try { list = await apiAll('/api/v1/users'); } catch (x) { return [h('p.muted', {}, x.status === 404 ? t('users_unavailable') : x.message)]; }
  const form = h('form.formrow#user-form', {},
    h('label', {}, t('username'), h('input', { name: 'username', required: true })),
    h('label', {}, t('password'), h('input', { name: 'password', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' })),
    h('label', {}, t('role'), h('select', { name: 'role' }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)))),
    h('button.primary', { type: 'submit' }, t('create_user')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await api('POST', '/api/v1/users', { username: form.username.value.trim(), password: form.password.value, role: form.role.value }); toast(t('saved')); render(); } catch (x) { toast(x.message, 'error'); }
  });
  return [form, h('table', {}, h('thead', {}, h('tr', {}, [t('username'), t('role'), t('disabled'), t('created'), ''].map((x) => h('th', {}, x)))),
    h('tbody', {}, list.map((u) => h('tr', { dataset: { user: u.username } }, h('td', {}, u.username),
      h('td', {}, h('select', { onchange: (e) => patch(`/api/v1/users/${encodeURIComponent(u.username)}`, { role: e.target.value }) }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)))),
      h('td', {}, h('input', { type: 'checkbox', checked: !!u.disabled, onchange: (e) => patch(`/api/v1/users/${encodeURIComponent(u.username)}`, { disabled: e.target.checked }) })),
      h('td', {}, when(u.created_at)),
      h('td', {}, h('button.small', { onclick: () => { const pw = prompt(t('new_password')); if (pw) patch(`/api/v1/users/${encodeURIComponent(u.username)}`, { password: pw }); } }, t('new_password')),
        h('button.small.danger', { onclick: () => del(`/api/v1/users/${encodeURIComponent(u.username)}`, u.username) }, t('delete')))))))];
}

async function render() {
  tabs();
  // The log's table wants width more than the map does.
  if (document.body.classList.contains('audit-open') !== (tab === 'audit')) {
    document.body.classList.toggle('audit-open', tab === 'audit');
    M.map.invalidateSize();
  }
  const pane = document.getElementById('pane');
  const build = { zones: zonesPane, responders: respondersPane, cameras: camerasPane, sources: sourcesPane, users: usersPane, merchants: () => merchantsPane(render), audit: () => auditPane(render) }[tab];
  try { pane.replaceChildren(...[await build()].flat().filter(Boolean)); } catch (x) { pane.replaceChildren(h('p.error', {}, x.message)); }
  applyI18n();
}

// A click on the map gives a new merchant its position.
M.map.on('click', (e) => { if (tab === 'merchants') fillPosition(M.fromMap(e.latlng)); });
onLangChange((l) => { M.map.pm.setLang(l.startsWith('zh') ? 'zh' : 'en'); render(); });
await loadZones();
fitTo(M.map, zonesLayer);
auditFromAddress();
render();
