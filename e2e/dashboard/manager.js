// The managers' page (/manager/) in Debian's Chromium. The Go test
// (manager_e2e_test.go) writes what the API answers a manager into the file
// named by EXPECT; this script signs in as that manager and checks:
//   - a rep who signs in is told the page is for managers;
//   - every figure on the page, for each period, equals the API's, and the
//     page shows no figure the API did not give;
//   - nothing of another manager's team appears, and searching for one of
//     their customers finds nothing;
//   - the manager hands a customer to another rep and sees the change;
//   - loading, empty and unreachable-server states say what is going on.
// Screenshots at phone and desktop sizes go to SHOTS.
'use strict'

const { launch } = require('./browser')
const path = require('path')
const fs = require('fs')

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}

const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1366, height: 900 }

function check(ok, message) {
  if (!ok) throw new Error(message)
}

// figures reads every figure the page shows: data-figure -> number.
async function figures(page) {
  return page.$$eval('[data-figure]', (els) => els.map((e) => [e.dataset.figure, Number(e.dataset.value)]))
}

function compare(period, shown, want) {
  const problems = []
  const seen = new Map()
  for (const [k, v] of shown) {
    if (seen.has(k) && seen.get(k) !== v) problems.push(`${k} shown twice: ${seen.get(k)} and ${v}`)
    seen.set(k, v)
  }
  for (const [k, v] of Object.entries(want.figures)) {
    if (!seen.has(k)) problems.push(`${k}: the API says ${v}, the page does not show it`)
    else if (Math.abs(seen.get(k) - v) > 0.005) problems.push(`${k}: page ${seen.get(k)}, API ${v}`)
  }
  for (const [k, v] of seen) {
    if (!(k in want.figures) && !(want.uncertain || []).some((p) => k.startsWith(p))) problems.push(`${k}: the page shows ${v}, the API gave no such figure`)
  }
  if (problems.length) throw new Error(`period ${period}: the page disagrees with the API:\n  ${problems.join('\n  ')}`)
  return seen.size
}

async function signIn(page, base, email, password) {
  await page.goto(base + '/manager/')
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', password)
  await page.click('#signin-button')
}

async function ready(page) {
  await page.waitForSelector('main[data-state=ready], main[data-state=error]', { timeout: 30000 })
  const s = await page.getAttribute('main', 'data-state')
  if (s !== 'ready') {
    const text = await page.innerText('main')
    throw new Error(`the page did not load: state ${s}\n${text}`)
  }
}

async function noForeigners(page, forbidden, where) {
  const text = await page.innerText('body')
  for (const name of forbidden) {
    check(!text.includes(name), `${where}: the page shows "${name}", who is not in the manager's team`)
  }
}

async function main() {
  const want = JSON.parse(fs.readFileSync(env('EXPECT'), 'utf8'))
  const base = env('ROUNDS_URL')
  const shots = env('SHOTS')
  fs.mkdirSync(shots, { recursive: true })
  const browser = await launch()
  const errors = []
  const open = async (viewport) => {
    const context = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-GB' })
    const page = await context.newPage()
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('Failed to load resource')) errors.push(m.text()) })
    return page
  }
  try {
    // a rep is told the page is for managers, and stays signed out
    let page = await open(PHONE)
    await page.goto(base + '/manager/')
    await page.screenshot({ path: path.join(shots, 'phone-sign-in.png'), fullPage: true })
    await signIn(page, base, want.rep.email, want.rep.password)
    await page.waitForSelector('main[data-state=not-manager]')
    check((await page.innerText('#signin-info')).includes('for sales managers'), 'a rep is not told that the page is for managers')
    check((await page.evaluate(() => localStorage.getItem('pocketbase_auth'))) === null, 'a rep\'s token was kept')
    await page.screenshot({ path: path.join(shots, 'phone-rep-told.png'), fullPage: true })
    await page.context().close()

    // a wrong password says so
    page = await open(DESKTOP)
    await signIn(page, base, want.manager.email, 'not-the-password')
    await page.waitForSelector('#signin-error:not([hidden])')
    check((await page.innerText('#signin-error')).includes('Wrong email or password'), 'a wrong password is not said plainly')

    // the manager: every figure of every period equals the API's
    await signIn(page, base, want.manager.email, want.manager.password)
    await ready(page)
    const auth = JSON.parse(await page.evaluate(() => localStorage.getItem('pocketbase_auth')))
    check(auth && auth.token && auth.record && auth.record.email === want.manager.email, 'the token is not kept as PocketBase\'s JS SDK keeps it')
    let compared = 0
    for (const [period, figs] of Object.entries(want.periods)) {
      await page.selectOption('#period', period)
      await ready(page)
      compared += compare(period, await figures(page), figs)
      await noForeigners(page, want.forbidden, `period ${period}`)
      const text = await page.innerText('main')
      check(!/\b(null|undefined|NaN)\b/.test(text), `period ${period}: the page prints null, undefined or NaN`)
      if (period === want.shotPeriod) await page.screenshot({ path: path.join(shots, 'desktop-overview.png'), fullPage: true })
    }
    console.log(`compared ${compared} figures over ${Object.keys(want.periods).length} periods`)

    // a customer of another team is not found
    await page.fill('#search', want.foreignCustomer)
    await page.waitForSelector('#results[data-state=empty]')
    check((await page.innerText('#results')).includes('No customer of your team matches'), 'a search for another team\'s customer does not say it found none')

    // the hand-over
    const h = want.handOver
    await page.fill('#search', h.customerName)
    await page.waitForSelector(`#results [data-customer="${h.customer}"]`)
    await page.click(`#results [data-customer="${h.customer}"]`)
    await page.waitForSelector(`#customer[data-state=ready][data-customer="${h.customer}"]`)
    check((await page.getAttribute('#customer-owner', 'data-owner')) === h.from, 'the customer panel does not show the owner')
    await noForeigners(page, want.forbidden, 'the customer panel')
    await page.selectOption('#handover-to', h.to)
    await page.click('#handover')
    await page.waitForSelector('#handover-confirm')
    await page.screenshot({ path: path.join(shots, 'desktop-hand-over.png') })
    await page.click('#handover-confirm')
    await page.waitForSelector(`#customer-owner[data-owner="${h.to}"]`, { timeout: 15000 })
    const panel = await page.innerText('#customer')
    check(panel.includes(`handed from ${h.fromName} to ${h.toName}`), `the timeline does not show the hand-over:\n${panel}`)
    check(panel.includes(`now ${h.toName}'s`), 'no confirmation of the hand-over')
    await ready(page)
    await page.screenshot({ path: path.join(shots, 'desktop-customer.png'), fullPage: true })

    // unreachable server: a banner that says so, and Retry recovers
    await page.route('**/api/**', (route) => route.abort('connectionrefused'))
    await page.selectOption('#period', 'last-month')
    await page.waitForSelector('#banner:not([hidden])')
    check((await page.innerText('#banner')).includes('cannot be reached'), 'an unreachable server is not said plainly')
    await page.screenshot({ path: path.join(shots, 'desktop-offline.png') })
    await page.unroute('**/api/**')
    await page.click('#retry')
    await ready(page)
    check(await page.isHidden('#banner'), 'the banner stays after the server is back')

    // loading states while the forecast is slow
    let release
    const held = new Promise((r) => { release = r })
    await page.route('**/api/reports/forecast**', async (route) => { await held; await route.continue() })
    await page.selectOption('#period', 'this-month')
    await page.waitForSelector('#forecast[data-state=loading]')
    check((await page.innerText('#forecast')).includes('Loading'), 'no loading state')
    await page.screenshot({ path: path.join(shots, 'desktop-loading.png') })
    release()
    await ready(page)
    await page.unroute('**/api/reports/forecast**')

    // empty states: a period that has not started
    await page.selectOption('#period', 'next-quarter')
    await ready(page)
    check((await page.getAttribute('#activity', 'data-state')) === 'empty', 'next quarter\'s activity is not empty')
    check((await page.innerText('#activity')).includes('has not started'), 'the empty activity does not say why')
    await page.screenshot({ path: path.join(shots, 'desktop-empty.png'), fullPage: true })
    await page.context().close()

    // the phone: signed in again, overview and a customer
    page = await open(PHONE)
    await signIn(page, base, want.manager.email, want.manager.password)
    await ready(page)
    await noForeigners(page, want.forbidden, 'the phone')
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    check(overflow <= 0, `the phone page scrolls sideways by ${overflow}px`)
    // no text leaves its box, at 390 and at 360 px (a money figure cut off was the finding)
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: PHONE.height })
      const clipped = await page.evaluate(() => [...document.querySelectorAll('main .card *')]
        .filter((e) => (e.children.length === 0 || e.classList.contains('total')) && !e.classList.contains('sr-only'))
        .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline')
        .map((e) => `${e.className || e.tagName}: ${e.textContent.trim().slice(0, 40)}`))
      check(clipped.length === 0, `at ${width} px these overflow their box: ${clipped.slice(0, 5).join('; ')}`)
    }
    await page.setViewportSize(PHONE)
    await page.screenshot({ path: path.join(shots, 'phone-overview.png'), fullPage: true })
    await page.fill('#search', h.customerName)
    await page.waitForSelector(`#results [data-customer="${h.customer}"]`)
    await page.click(`#results [data-customer="${h.customer}"]`)
    await page.waitForSelector(`#customer[data-state=ready][data-customer="${h.customer}"]`)
    await page.screenshot({ path: path.join(shots, 'phone-customer.png') })
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    check(overflow2 <= 0, `the phone's customer panel scrolls sideways by ${overflow2}px`)
    await page.click('#signout')
    await page.waitForSelector('#signin:not([hidden])')
    check((await page.evaluate(() => localStorage.getItem('pocketbase_auth'))) === null, 'signing out keeps the token')
    await page.context().close()

    check(errors.length === 0, `the page logged errors:\n  ${errors.join('\n  ')}`)
  } finally {
    await browser.close()
  }
}

main().then(() => console.log('managers\' page: ok'), (err) => {
  console.error(err.stack || err.message)
  process.exit(1)
})
