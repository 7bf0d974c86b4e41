// The sign-in page: posts the form to `POST /api/v1/session` (which sets the HttpOnly
// session cookie) and goes to the operator view.
import { t, applyI18n, setLang, currentLang, LANGUAGES } from './i18n.js';

const form = document.getElementById('login');
const err = document.getElementById('login-error');
const sel = document.getElementById('lang');
for (const [code, label] of LANGUAGES) {
  const o = document.createElement('option');
  o.value = code; o.textContent = label; o.selected = code === currentLang();
  sel.append(o);
}
sel.addEventListener('change', () => setLang(sel.value));
applyI18n();

function show(msg) { err.textContent = msg; err.hidden = false; }

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  err.hidden = true;
  const body = { username: form.username.value.trim(), password: form.password.value };
  let res;
  try {
    res = await fetch('/api/v1/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch (x) { show(String(x)); return; }
  if (res.ok) {
    const next = new URLSearchParams(location.search).get('next');
    // A 喜邻 merchant's login has one page: its own.
    const who = await res.json().catch(() => ({}));
    const home = who.role === 'merchant' ? '/merchant' : '/';
    location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : home);
  } else if (res.status === 429) {
    show(t('login_locked', { secs: res.headers.get('Retry-After') || '60' }));
  } else if (res.status === 404 || res.status === 405) {
    show(t('login_unavailable'));
  } else {
    show(t('login_failed'));
  }
});
