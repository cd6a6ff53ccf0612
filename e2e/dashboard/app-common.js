// What the reps' app browser scripts (app.js, app-office.js, app-bench.js) share: the
// environment, checks, the API as a test client, and waiting for the app
// to settle after a sync.
'use strict'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}
const BASE = env('ROUNDS_URL')

function check(ok, message) {
  if (!ok) throw new Error(message)
}
function step(name) {
  process.stdout.write(`- ${name}\n`)
}

async function api(method, p, token, body) {
  const res = await fetch(BASE + p, {
    method, headers: { ...(token ? { Authorization: token } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = res.status === 204 ? null : await res.json().catch(() => null)
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

// settled waits until the status line says the app synced and nothing waits.
async function settled(page, what) {
  await page.waitForFunction(() => {
    const s = document.querySelector('#status')
    const w = document.querySelector('#waiting')
    return s && s.dataset.state === 'idle' && /Synced/.test(s.textContent) && w && w.dataset.waiting === '0'
  }, null, { timeout: 30000 }).catch(async () => {
    throw new Error(`${what}: the app did not settle; status: ${await page.textContent('#status').catch(() => '?')}; refused: ${await page.textContent('#refused').catch(() => '?')}`)
  })
}

module.exports = { env, BASE, check, step, api, settled }
