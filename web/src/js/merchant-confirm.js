// The merchant page's redemption part: confirm a volunteer's one-time code (typed, or
// read from its QR code with the camera where the browser has `BarcodeDetector`), say
// plainly how it went, list today's redemptions and link the monthly settlement.
import { api, apiAll, h, t } from './common.js';

/** The 8 digits in `text` (spaces allowed), or null. */
export function codeOf(text) {
  const digits = String(text || '').replace(/\s+/g, '');
  return /^[0-9]{8}$/.test(digits) ? digits : null;
}

/** The message key and its values for a confirmation's answer. */
export function resultOf(status, answer, retryAfter) {
  if (status === 200) return ['ok', 'rd_ok', { offer: answer.offer_title, points: answer.points }];
  if (status === 409) return ['bad', 'rd_used', {}];
  if (status === 410) return ['bad', 'rd_expired', {}];
  if (status === 404) return ['bad', 'rd_not_ours', {}];
  if (status === 429) return ['bad', 'rd_locked', { s: retryAfter || '?' }];
  return ['bad', '', {}];
}

const pad = (n) => String(n).padStart(2, '0');

/** Binds the confirm form; `onConfirmed()` runs after each confirmation (stock changed). */
export function bindConfirm(merchantId, onConfirmed = () => {}) {
  const form = document.getElementById('confirm-code');
  const input = document.getElementById('code');
  const out = document.getElementById('confirm-result');
  const id = encodeURIComponent(merchantId);
  let last = null;

  function say() {
    if (!last) { out.replaceChildren(); return; }
    const [kind, key, vals, raw] = last;
    out.className = `confirm-result ${kind}`;
    out.dataset.result = key || 'error';
    out.textContent = key ? t(key, vals) : raw;
  }

  async function confirm(code) {
    try {
      const answer = await api('POST', `/api/v1/redemptions/${code}/confirm`);
      last = resultOf(200, answer);
      input.value = '';
      onConfirmed();
    } catch (e) {
      last = [...resultOf(e.status, e.body || {}, e.retryAfter), e.message];
    }
    say();
    loadToday();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const code = codeOf(input.value);
    if (!code) { last = ['bad', 'rd_bad_code', {}]; say(); return; }
    confirm(code);
  });

  // Camera scanning only where the browser can read QR codes itself.
  const scan = document.getElementById('scan');
  const video = document.getElementById('scan-video');
  if ('BarcodeDetector' in window) {
    scan.hidden = false;
    let stream = null;
    const stop = () => {
      if (stream) for (const tr of stream.getTracks()) tr.stop();
      stream = null;
      video.hidden = true;
      scan.textContent = t('rd_scan');
    };
    scan.addEventListener('click', async () => {
      if (stream) { stop(); return; }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      } catch (e) {
        last = ['bad', '', {}, String(e.message || e)]; say(); return;
      }
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      scan.textContent = t('rd_scan_stop');
      const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      const look = async () => {
        if (!stream) return;
        const found = await detector.detect(video).catch(() => []);
        const code = found.map((f) => codeOf(f.rawValue)).find(Boolean);
        if (code) { stop(); input.value = code; confirm(code); return; }
        setTimeout(look, 250);
      };
      look();
    });
  } else {
    document.getElementById('scan-none').hidden = false;
  }

  const today = document.getElementById('today');
  async function loadToday() {
    const d = new Date();
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    let rows = [];
    try { rows = await apiAll(`/api/v1/redemptions?from=${day}`); } catch { /* shown empty */ }
    today.replaceChildren(...(rows.length ? rows.map((r) => h('li', { dataset: { code: r.code, state: r.state } },
      h('div.offer-title', {}, `${r.offer_title} · ${t('points_n', { n: r.points })}`),
      h('div.offer-details', {}, `${new Date(r.created_at).toLocaleTimeString()} · ${r.code} · ${t(`rd_state_${r.state}`)}`)))
      : [h('li.muted', {}, t('rd_none_today'))]));
  }

  const month = document.getElementById('settle-month');
  const d = new Date();
  month.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
  const links = () => {
    for (const ext of ['csv', 'xlsx']) {
      document.getElementById(`settle-${ext}`).href = `/api/v1/merchants/${id}/settlement.${ext}?month=${encodeURIComponent(month.value)}`;
    }
  };
  month.addEventListener('change', links);
  links();
  loadToday();
  return { render: () => { say(); loadToday(); } };
}
