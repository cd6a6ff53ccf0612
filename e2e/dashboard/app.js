// The reps' app (/app/) in Debian's Chromium, at a phone's size: a rep's day
// offline. The Go test (app_e2e_test.go) seeds a company and starts the
// server; this script:
//   - a manager who signs in is told the app is for reps;
//   - the rep signs in and the first sync brings the territory (as many
//     customers as the API lists for them);
//   - offline, the page is reloaded: the app opens (service worker) with
//     the data (IndexedDB);
//   - offline, the rep checks in at a customer (geolocation at the
//     customer's own position), writes the outcome and notes, promises a
//     follow-up and edits the customer's notes; the page is closed right
//     after a save and opened again: the save is there;
//   - back online, the app syncs by itself: the server holds every record,
//     with the server's geo_status "verified", which the app then shows, and
//     nothing waits;
// and takes screenshots of every screen at 360, 390 and 1366 px (SHOTS).
//
// Environment: ROUNDS_URL, REP_EMAIL, MANAGER_EMAIL, PASSWORD, SHOTS.
'use strict'

const { launch } = require('./browser')
const path = require('path')
const fs = require('fs')

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}
const BASE = env('ROUNDS_URL')
const SHOTS = env('SHOTS')

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
  const json = await res.json().catch(() => null)
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

async function signIn(page, email) {
  await page.goto(BASE + '/app/')
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', env('PASSWORD'))
  await page.click('#signin-button')
}

// settled waits until the status line says the app synced and nothing waits.
async function settled(page, what) {
  await page.waitForFunction(() => {
    const s = document.querySelector('#status')
    const w = document.querySelector('#waiting')
    return s && s.dataset.state === 'idle' && /Synced/.test(s.textContent) && w && w.dataset.waiting === '0'
  }, null, { timeout: 30000 }).catch(async () => {
    throw new Error(`${what}: the app did not settle; status: ${await page.textContent('#status').catch(() => '?')}`)
  })
}

async function shoot(page, name) {
  for (const [w, h] of [[360, 780], [390, 844], [1366, 900]]) {
    await page.setViewportSize({ width: w, height: h })
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}.png`), fullPage: true })
    // nothing runs out of its box sideways
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    check(wide <= 0, `${name} at ${w} px: the page is ${wide} px wider than the screen`)
    const text = await page.textContent('body')
    check(!/\b(undefined|null|NaN)\b/.test(text), `${name} at ${w} px shows undefined, null or NaN`)
  }
  await page.setViewportSize({ width: 390, height: 844 })
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true })
  const rep = await api('POST', '/api/collections/users/auth-with-password', null, { identity: env('REP_EMAIL'), password: env('PASSWORD') })
  const listed = await api('GET', '/api/collections/customers/records?perPage=500&filter=' + encodeURIComponent(`owner = "${rep.record.id}"`), rep.token)
  const target = listed.items.find((c) => c.lat && c.lng) || listed.items[0]
  check(target, 'the rep has no customer')

  const browser = await launch()
  const errors = []
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    geolocation: { latitude: target.lat, longitude: target.lng, accuracy: 10 },
    permissions: ['geolocation'],
  })
  const consoleLog = []
  const watch = (page) => {
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => consoleLog.push(`${m.type()}: ${m.text()}`))
  }
  process.on('exit', (code) => { if (code !== 0) console.error('browser console:\n  ' + consoleLog.slice(-40).join('\n  ') + '\npage errors: ' + errors.join('; ')) })
  let page = await context.newPage()
  watch(page)

  step('a manager is told the app is for reps')
  await signIn(page, env('MANAGER_EMAIL'))
  await page.waitForSelector('#signin-error:not([hidden])')
  check(/for reps/.test(await page.textContent('#signin-error')), 'no plain sentence for a manager')
  await shoot(page, 'signin')

  step('the rep signs in; the first sync brings the territory')
  await page.fill('input[name=email]', env('REP_EMAIL'))
  await page.click('#signin-button')
  await settled(page, 'first sync')
  await page.evaluate(() => navigator.serviceWorker.ready)
  await page.click('#nav a[href="#/customers"]')
  await page.waitForSelector('#results li')
  const shown = await page.$$eval('#results li a', (as) => as.length)
  check(shown === Math.min(listed.totalItems, 100), `the app lists ${shown} customers, the API ${listed.totalItems}`)

  step('offline, the page reloads: the app opens with the data')
  await context.setOffline(true)
  await page.reload()
  await page.waitForSelector('#nav:not([hidden])')
  await page.goto(BASE + '/app/#/customers')
  await page.waitForSelector('#results li a')
  check(await page.$$eval('#results li a', (as) => as.length) === shown, 'offline, the customers are not all there')
  await page.fill('#search', target.name.slice(0, 6))
  await page.waitForFunction((name) => [...document.querySelectorAll('#results li a')].some((a) => a.textContent.includes(name)), target.name)

  step('offline: check in at the customer, outcome and notes, a follow-up, the customer\'s notes')
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#checkin')
  await page.click('#checkin')
  await page.waitForSelector('#visit-form')
  const visitId = page.url().split('/').pop()
  await page.fill('input[name=purpose]', 'Offline visit')
  await page.fill('input[name=outcome]', 'Ordered the usual')
  await page.fill('textarea[name=notes]', 'Wants a tasting in spring')
  await page.click('#save-visit')
  await page.waitForFunction(() => document.querySelector('#visit-saved').textContent.length > 0)
  await page.click('#checkout')
  await page.waitForSelector('#checkout', { state: 'detached' })
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#followup-form')
  await page.fill('#followup-form input[name=note]', 'Send the spring price list')
  await page.click('#followup-form button[type=submit]')
  await page.waitForFunction(() => /Send the spring price list/.test(document.querySelector('main').textContent))
  await page.fill('#notes', 'Closed on Mondays')
  await page.click('#save-notes')
  await page.waitForFunction(() => /Saved/.test(document.querySelector('main').textContent))
  // closed right after the save, opened again: the save is on disk
  await page.close()
  page = await context.newPage()
  watch(page)
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#notes')
  check((await page.inputValue('#notes')) === 'Closed on Mondays', 'the notes saved just before the page closed are gone')
  const waiting = Number(await page.getAttribute('#waiting', 'data-waiting'))
  check(waiting >= 3, `the status line says ${waiting} changes wait, want at least 3`)
  check(/Offline/.test(await page.textContent('#status')), 'the status line does not say offline')
  await shoot(page, 'customer-offline')

  step('back online: the app syncs by itself, the server holds everything')
  await context.setOffline(false)
  await settled(page, 'sync after coming back online')
  const visit = await api('GET', `/api/collections/visits/records/${visitId}`, rep.token)
  check(visit.outcome === 'Ordered the usual' && visit.notes === 'Wants a tasting in spring' && visit.checked_out_at && visit.geo_status === 'verified',
    `the visit on the server: ${JSON.stringify(visit)}`)
  const customer = await api('GET', `/api/collections/customers/records/${target.id}`, rep.token)
  check(customer.notes.includes('Closed on Mondays'), `the customer's notes on the server: ${customer.notes}`)
  const promised = await api('GET', '/api/collections/follow_ups/records?filter=' + encodeURIComponent(`customer = "${target.id}" && note = "Send the spring price list"`), rep.token)
  check(promised.totalItems === 1, `${promised.totalItems} follow-ups on the server`)

  step('the app shows the server\'s values')
  await page.goto(BASE + `/app/#/visit/${visitId}`)
  await page.waitForSelector('#geo')
  check(/verified/.test(await page.textContent('#geo')), `the visit shows ${await page.textContent('#geo')}`)
  await shoot(page, 'visit')
  await page.goto(BASE + '/app/#/today')
  await page.waitForSelector('main section')
  await shoot(page, 'today')
  await page.goto(BASE + '/app/#/customers')
  await page.waitForSelector('#results li')
  await shoot(page, 'customers')

  check(errors.length === 0, `page errors: ${errors.join('; ')}`)
  await browser.close()
  step('app: ok')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
