// 随手拍: a volunteer or worker reports a problem from the phone — what kind, a note, where
// they stand, and a photo from the camera — to `POST /api/v1/field/reports` with their own
// MQTT login as HTTP Basic (docs/contract.md). The photo is scaled down on the phone first:
// a task needs to show the problem, not keep a 12-megapixel original. A report that could
// not be sent stays filled in, and sending it again is safe: its `request_id` makes a
// second arrival the same report.
import { t } from './i18n.js';
import { h } from './common.js';

/** Kinds a person in the street reports most, in the order the form lists them. */
export const REPORT_KINDS = ['litter', 'road_damage', 'manhole', 'flood', 'fire_lane', 'parking', 'noise', 'elderly_help', 'fall', 'fire'];

/** Longest side of the photo sent, pixels. */
export const PHOTO_MAX_SIDE = 1600;

/** `[width, height]` scaled to fit `max` on the longer side (never enlarged). */
export function scaledSize(width, height, max = PHOTO_MAX_SIDE) {
  const long = Math.max(width, height);
  if (!(long > max)) return [width, height];
  const f = max / long;
  return [Math.max(1, Math.round(width * f)), Math.max(1, Math.round(height * f))];
}

/** The request body, or `{error}` naming what is missing. `photo` is base64 (or null). */
export function reportBody({ requestId, kind, note, position, photo }) {
  if (!REPORT_KINDS.includes(kind)) return { error: 'f_rep_no_kind' };
  if (!position) return { error: 'f_rep_no_position' };
  const text = (note || '').trim();
  if (text.length > 2000) return { error: 'f_rep_note_long' };
  const body = { request_id: requestId, kind, lat: position.lat, lon: position.lon };
  if (text) body.note = text;
  if (photo) body.photo = photo;
  return { body };
}

/** A new id for a report, kept until it is accepted so a retry is the same report. */
function newRequestId() {
  return `rep-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The picture in `file` as base64 JPEG, at most PHOTO_MAX_SIDE pixels a side. */
async function photoBase64(file) {
  const bitmap = await createImageBitmap(file);
  const [w, hgt] = scaledSize(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hgt;
  canvas.getContext('2d').drawImage(bitmap, 0, 0, w, hgt);
  const blob = await new Promise((res) => canvas.toBlob(res, 'image/jpeg', 0.82));
  const url = await new Promise((res, rej) => {
    const r = new FileReader();
    r.onload = () => res(r.result);
    r.onerror = () => rej(r.error);
    r.readAsDataURL(blob);
  });
  return String(url).slice(String(url).indexOf(',') + 1);
}

/**
 * Binds the report button and form. `ctx`: `login()` → `{username, password}`,
 * `position()` → a browser position or null, `notice(message, kind, key)`.
 */
export function bindReport(ctx) {
  const draft = { requestId: newRequestId(), kind: REPORT_KINDS[0], note: '', photo: null, preview: null, sending: false };
  const open = document.getElementById('report-open');
  const view = document.getElementById('report-view');
  const list = document.getElementById('list-view');
  const show = (on) => { view.hidden = !on; list.hidden = on; if (on) render(); };
  open.onclick = () => show(true);

  function where() {
    const p = ctx.position();
    return p ? { lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy } : null;
  }

  async function send() {
    const at = where();
    const made = reportBody({ requestId: draft.requestId, kind: draft.kind, note: draft.note, position: at, photo: draft.photo });
    if (made.error) { ctx.notice(t(made.error), 'bad', 'report'); return; }
    const { username, password } = ctx.login();
    draft.sending = true;
    render();
    try {
      const resp = await fetch('/api/v1/field/reports', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Basic ${btoa(unescape(encodeURIComponent(`${username}:${password}`)))}` },
        body: JSON.stringify(made.body),
      });
      const answer = await resp.json().catch(() => ({}));
      if (resp.status === 202) {
        ctx.notice(t('f_rep_sent', { id: String(answer.incident_id || '').slice(0, 12) }), 'ok', 'report');
        Object.assign(draft, { requestId: newRequestId(), note: '', photo: null, preview: null });
        show(false);
      } else {
        ctx.notice(`${t('f_rep_refused')}: ${answer.error || resp.status}`, 'bad', 'report');
      }
    } catch {
      // No answer: kept as it is; sending again is the same report.
      ctx.notice(t('f_rep_offline'), 'warn', 'report');
    } finally {
      draft.sending = false;
      render();
    }
  }

  async function takePhoto(file) {
    if (!file) return;
    try {
      draft.photo = await photoBase64(file);
      draft.preview = `data:image/jpeg;base64,${draft.photo}`;
    } catch {
      ctx.notice(t('f_rep_bad_photo'), 'bad', 'report');
    }
    render();
  }

  function render() {
    if (view.hidden) return;
    const at = where();
    view.replaceChildren(
      h('button.ghost.small#report-back', { onclick: () => show(false) }, `← ${t('back')}`),
      h('h1', {}, t('f_rep_title')),
      h('label', {}, t('kind'), h('select#report-kind', { onchange: (e) => { draft.kind = e.target.value; } },
        REPORT_KINDS.map((k) => h('option', { value: k, selected: k === draft.kind }, t(`k_${k}`))))),
      h('label', {}, t('f_rep_note'), h('textarea#report-note', { rows: 3, maxlength: 2000, placeholder: t('f_rep_note_hint'), oninput: (e) => { draft.note = e.target.value; } }, draft.note)),
      h('label.photo', {}, t('f_rep_photo'), h('input#report-photo', { type: 'file', accept: 'image/*', capture: 'environment', onchange: (e) => takePhoto(e.target.files[0]) })),
      draft.preview ? h('img.report-preview', { src: draft.preview, alt: t('f_rep_photo') }) : null,
      h('p.muted#report-where', {}, at ? t('f_rep_at', { lat: at.lat.toFixed(5), lon: at.lon.toFixed(5), acc: Math.round(at.acc || 0) }) : t('f_rep_no_position')),
      h('button.primary.big#report-send', { disabled: draft.sending, onclick: send }, draft.sending ? t('f_rep_sending') : t('f_rep_send')),
    );
  }
}
