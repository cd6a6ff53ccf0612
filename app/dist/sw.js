// The reps' app's service worker: it serves the app's own files from a cache
// named after the build (BUILD is replaced by build.mjs with a hash of the
// files), so the app opens with no network. A new build installs a new cache
// and drops the old one; /api/ is never served from the cache.
const CACHE = 'rounds-app-7924c6a9d968'
const FILES = ['./', 'index.html', 'app.js', 'app.css', 'manifest.webmanifest', 'icon.svg']

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('rounds-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== location.origin || !url.pathname.startsWith(new URL('./', self.registration.scope).pathname)) return
  // the app's files: the cache first (the network when the file is not cached);
  // ignoreVary: the server answers with Vary: Origin and a module script is
  // requested with an Origin header the cached request did not have
  event.respondWith(
    caches.open(CACHE).then((c) =>
      c.match(event.request, { ignoreSearch: true, ignoreVary: true }).then((hit) => hit || fetch(event.request)),
    ),
  )
})
