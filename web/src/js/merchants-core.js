// Pure helpers for the 喜邻 merchants and grid stations (网格驿站): how a merchant shows on
// a map, how an offer reads, and the admin forms' bodies. No DOM, so web/test runs them.

/** The map marker of a merchant: stations and plain shops look different. */
export function merchantIcon(m) {
  return m.station
    ? { className: 'merchant-icon station', glyph: '驿', size: 20 }
    : { className: 'merchant-icon shop', glyph: '店', size: 16 };
}

/** A merchant's tooltip: name, station or shop, opening hours, number of offers. */
export function merchantTooltip(m, t) {
  const parts = [m.name, t(m.station ? 'station' : 'shop')];
  if (m.hours) parts.push(`${t('hours')} ${m.hours}`);
  parts.push(t('offers_n', { n: m.offers ?? 0 }));
  return parts.join(' · ');
}

/** One offer as a line of text: price, then stock, limit and validity where set. */
export function offerDetails(o, t, when) {
  const parts = [t('points_n', { n: o.points })];
  parts.push(`${t('stock')} ${o.stock == null ? t('stock_unlimited') : o.stock}`);
  if (o.per_person_limit != null) parts.push(`${t('per_person')} ${o.per_person_limit}`);
  if (o.valid_until) parts.push(`${t('valid_until')} ${when(o.valid_until)}`);
  if (o.active === false) parts.push(t('inactive'));
  return parts.join(' · ');
}

/** A number typed in a form, or `undefined` when blank; `NaN` stays for the server to refuse. */
function num(s) {
  const v = String(s ?? '').trim();
  return v === '' ? undefined : Number(v);
}

/** The body of `POST /api/v1/merchants` from the admin form's values (strings, a checkbox). */
export function merchantBody(v) {
  return {
    id: String(v.id || '').trim(),
    name: String(v.name || '').trim(),
    address: String(v.address || '').trim(),
    lat: num(v.lat),
    lon: num(v.lon),
    station: !!v.station,
    hours: String(v.hours || '').trim() || undefined,
  };
}

/** The body of `POST /api/v1/merchants/{id}/offers` from the admin form's values. */
export function offerBody(v) {
  return {
    id: String(v.id || '').trim(),
    title: String(v.title || '').trim(),
    points: num(v.points),
    stock: num(v.stock),
    per_person_limit: num(v.per_person_limit),
  };
}
