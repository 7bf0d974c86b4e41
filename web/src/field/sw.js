// The field app's service worker: keeps the app shell (page, scripts, styles, the broker
// settings) so the app opens with no network, e.g. in a basement or a lift. Tasks come over
// MQTT and answers wait in the page's outbox, so only the shell needs caching here, and the
// offline base map's tiles the small map has shown (the last BASEMAP_TILES of them).
//
// Network first: a worker online always gets the build the server runs now; the cache is
// the fallback, filled on install and refreshed by every successful fetch.
const CACHE = 'griddispatch-field-v3';
/** The base map tiles' own cache, kept across new builds. */
const BASEMAP_CACHE = 'griddispatch-field-basemap';
/** Most base map tiles kept (a few hundred KB). */
const BASEMAP_TILES = 300;
const SHELL = [
  '/field',
  '/field/manifest.webmanifest',
  '/api/v1/field/config',
  '/assets/app/css/field.css',
  '/assets/app/js/field.js',
  '/assets/app/js/field-core.js',
  '/assets/app/js/field-view.js',
  '/assets/app/js/field-card.js',
  '/assets/app/js/console-core.js',
  '/assets/app/js/field-report.js',
  '/assets/app/js/field-points.js',
  '/assets/app/js/i18n-redeem.js',
  '/assets/app/js/i18n-points.js',
  '/assets/app/js/i18n-audit.js',
  '/assets/app/js/common.js',
  '/assets/app/js/i18n.js',
  '/assets/app/js/i18n-merchants.js',
  '/assets/app/js/merchants-core.js',
  '/assets/app/js/field-merchants.js',
  '/assets/app/js/map.js',
  '/assets/app/js/basemap-layer.js',
  '/assets/app/js/gcj02.js',
  '/assets/app/field/icon.svg',
  '/assets/app/field/icon-192.png',
  '/assets/app/field/icon-512.png',
  '/assets/vendor/leaflet/leaflet.js',
  '/assets/vendor/leaflet/leaflet.css',
  '/assets/vendor/mqtt/mqtt.min.js',
  '/assets/vendor/uqr/uqr.mjs',
];
/** A slow network counts as none after this long, when the cache can answer. */
const NETWORK_WAIT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE && key !== BASEMAP_CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

function cacheKey(request) {
  const url = new URL(request.url);
  return url.pathname === '/field' || url.pathname === '/field/' ? '/field' : url.pathname;
}

function inShell(request) {
  const url = new URL(request.url);
  return request.method === 'GET' && url.origin === self.location.origin && SHELL.includes(cacheKey(request));
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const key = cacheKey(request);
  const network = fetch(request).then(async (resp) => {
    if (resp.ok) await cache.put(key, resp.clone());
    return resp;
  });
  network.catch(() => {}); // answered from the cache below; a late failure is expected
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS, null));
  try {
    const first = await Promise.race([network, timeout]);
    if (first) return first;
    const cached = await cache.match(key);
    return cached || await network;
  } catch {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw new Error(`offline and ${key} is not cached`);
  }
}

/** A base map tile: from the network, kept; from the cache when there is none. */
async function basemapTile(request) {
  const cache = await caches.open(BASEMAP_CACHE);
  const key = new URL(request.url).pathname;
  try {
    const resp = await fetch(request);
    if (resp.ok) {
      await cache.put(key, resp.clone());
      const keys = await cache.keys();
      for (const old of keys.slice(0, Math.max(0, keys.length - BASEMAP_TILES))) await cache.delete(old);
    }
    return resp;
  } catch (e) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (inShell(event.request)) event.respondWith(networkFirst(event.request));
  else if (event.request.method === 'GET' && url.origin === self.location.origin && url.pathname.startsWith('/api/v1/basemap/')) {
    event.respondWith(basemapTile(event.request));
  }
});

// A tap on a task notification brings the app forward (or opens it).
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = all.find((c) => new URL(c.url).pathname.startsWith('/field'));
    if (open) return open.focus();
    return self.clients.openWindow('/field');
  })());
});
