// The reps' app (/app/) in Debian's Chromium, at a phone's size: a rep's day
// offline. The Go test (app_e2e_test.go) seeds a company and starts the
// server; this script:
//   - a manager who signs in is told the app is for reps;
//   - the rep signs in and the first sync brings the territory (as many
//     customers as the API lists for them);
//   - offline, the page is reloaded: the app opens (service worker) with
//     the data (IndexedDB);
//   - offline, the rep checks in at a customer (geolocation at the
//     customer's own position), writes the outcome and notes, takes an
//     order of two lines from the visit (an estimated total) and submits
//     it, adds a deal and moves it a stage, fixes a contact's birthday (a
//     wrong one is explained), marks a follow-up done, promises another and
//     edits the customer's notes; the page is closed right after a save
//     and opened again: the save is there;
//   - back online, the app syncs by itself: the server holds every record,
//     with the server's geo_status "verified" and the order's total priced
//     by the server, which the app then shows, and nothing waits;
// and takes screenshots of every screen at 360, 390 and 1366 px (SHOTS).
//
// Also: a record the server refuses is named with its reason until fixed;
// the app never sends a field the server owns (no such conflict logged);
// the session is renewed; signing out with unsynced work asks first.
//
// Environment: ROUNDS_URL, REP_EMAIL, MANAGER_EMAIL, PASSWORD, ADMIN_EMAIL,
// ADMIN_PASSWORD, SHOTS.
'use strict'

const { launch } = require('./browser')
const path = require('path')
const fs = require('fs')
const { env, BASE, check, step, api, settled } = require('./app-common')
const SHOTS = env('SHOTS')

// lunar: a day three to five days from now (the browser's time zone is this
// machine's) with its lunar MM-DD as the server computes it (LUNAR_DAYS,
// from the Go test: date -> MM-DD, days of leap months left out).
const lunar = (() => {
  const days = JSON.parse(env('LUNAR_DAYS'))
  const pad = (n) => String(n).padStart(2, '0')
  for (const n of [3, 4, 5, 2]) {
    const d = new Date(Date.now() + n * 86400000)
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
    if (days[day]) return { day, mmdd: days[day] }
  }
  throw new Error(`no lunar day among ${Object.keys(days)}`)
})()

async function signIn(page, email) {
  await page.goto(BASE + '/app/')
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', env('PASSWORD'))
  await page.click('#signin-button')
}

// accessible runs axe-core on the screen: no serious or critical finding.
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
async function accessible(page, name) {
  const found = await page.evaluate(async (src) => {
    if (!window.axe) (0, eval)(src) // evaluated by the test, not loaded: the app's content policy stays strict
    const r = await window.axe.run(document, { resultTypes: ['violations'] })
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)
  }, axeSource)
  check(found.length === 0, `${name}: accessibility findings:\n  ${found.join('\n  ')}`)
}

// keyboard: Tab from the top reaches every control on the screen.
async function keyboard(page, name) {
  await page.evaluate(() => {
    let i = 0
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
      if (!el.disabled && el.offsetParent !== null) el.dataset.kb = String(i++)
    }
    document.querySelector('[data-kb="0"]')?.focus() // Tab goes on from the first control
  })
  const total = await page.$$eval('[data-kb]', (els) => els.length)
  const reached = new Set(['0'])
  for (let i = 0; i < total + 5 && reached.size < total; i++) {
    await page.keyboard.press('Tab')
    const k = await page.evaluate(() => document.activeElement?.dataset?.kb)
    if (k !== undefined) reached.add(k)
  }
  const missed = await page.$$eval('[data-kb]', (els, got) => els.filter((e) => !got.includes(e.dataset.kb)).map((e) => e.outerHTML.slice(0, 80)), [...reached])
  check(missed.length === 0, `${name}: not reachable by keyboard: ${missed.join(', ')}`)
}

async function shoot(page, name) {
  await accessible(page, name)
  await keyboard(page, name)
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
    locale: 'en-US',
    viewport: { width: 390, height: 844 },
    geolocation: { latitude: target.lat, longitude: target.lng, accuracy: 10 },
    permissions: ['geolocation'],
  })
  const consoleLog = []
  // every push the app sends, to check that it never sets what the server owns
  const schema = await (await fetch(BASE + '/api/sync/schema')).json()
  const owned = Object.fromEntries(schema.tables.map((t) => [t.name, t.columns.filter((c) => c.isServerOwned && c.name !== 'created' && c.name !== 'updated').map((c) => c.name)]))
  const pushes = []
  context.on('request', (r) => { if (r.url().includes('/api/sync/push') && r.postData()) pushes.push(r.postData()) })
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

  step('offline: check in, outcome and notes, an order of two lines submitted, a deal moved, a birthday fixed, a follow-up done and one promised, the customer\'s notes')
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
  // an order with two lines, taken from the visit; the total is an estimate until the server prices it
  await page.goto(BASE + `/app/#/visit/${visitId}`)
  await page.click('#visit-order')
  await page.waitForSelector('#catalogue')
  const orderId = page.url().split('/').pop()
  for (const n of [0, 1]) {
    await page.click(`#catalogue-results li:nth-child(${n + 1}) button`)
    await page.waitForFunction((k) => document.querySelectorAll('#lines li').length === k, n + 1)
  }
  await page.fill('#lines li:nth-child(1) input[type=number] >> nth=0', '3')
  await page.press('#lines li:nth-child(1) input[type=number] >> nth=0', 'Tab')
  await page.waitForFunction(() => document.querySelector('#lines li:nth-child(1) input').value === '3')
  check((await page.getAttribute('#order-total', 'data-estimate')) === 'yes', 'offline, the total is not marked as an estimate')
  await shoot(page, 'order-draft')
  await page.click('#submit-order')
  await page.waitForFunction(() => /submitted/.test(document.querySelector('#order-status').textContent))
  // a deal found on site, moved to the next stage; a contact's birthday; a follow-up done
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#deal-form')
  await page.fill('#deal-form input[name=title]', 'Spring tasting')
  await page.fill('#deal-form input[name=amount]', '1200')
  await page.click('#deal-form button[type=submit]')
  // the deal just added (the customer may have others: its select is named after its title)
  await page.waitForSelector('select[data-deal][aria-label$=": Spring tasting"]')
  const dealId = await page.getAttribute('select[data-deal][aria-label$=": Spring tasting"]', 'data-deal')
  const stages = await page.$$eval(`select[data-deal="${dealId}"] option`, (os) => os.map((o) => o.value))
  await page.selectOption(`select[data-deal="${dealId}"]`, stages[1])
  await page.waitForFunction(([d, s]) => document.querySelector(`select[data-deal="${d}"]`)?.value === s, [dealId, stages[1]])
  await page.click('#nav a[href="#/customers"]')
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#contact-form, a[href^="#/contact/"]')
  const contactHref = await page.getAttribute('main a[href^="#/contact/"]:not([href*="new"])', 'href').catch(() => null)
  check(contactHref, 'the customer has no contact to edit (the seed changed?)')
  let contactId = null
  if (contactHref) {
    contactId = contactHref.split('/').pop()
    await page.goto(BASE + `/app/${contactHref}`)
    await page.fill('#contact-form input[name=birthday]', '13-45')
    await page.click('#save-contact')
    check(/MM-DD/.test(await page.textContent('#contact-form .error')), 'a wrong birthday is not explained')
    await page.fill('#contact-form input[name=birthday]', '02-29')
    await page.click('#save-contact')
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#contact-saved').textContent))
    // the customer keeps it by the lunar calendar, a few days from now, and reads Chinese
    await page.selectOption('#contact-form select[name=birthday_calendar]', 'lunar')
    await page.fill('#contact-form input[name=birthday]', '08-31')
    await page.click('#save-contact')
    check(/01–30/.test(await page.textContent('#contact-form .error')), 'a lunar day 31 is not explained')
    await page.fill('#contact-form input[name=birthday]', lunar.mmdd)
    await page.selectOption('#contact-form select[name=language]', 'zh-CN')
    await page.click('#save-contact')
    await page.waitForFunction(() => /Saved/.test(document.querySelector('#contact-saved').textContent) && document.querySelector('#contact-form .error').hidden)
    await shoot(page, 'contact')
    await page.click('#nav a[href="#/today"]')
    await page.waitForSelector(`[data-birthday="${contactId}"]`)
    const line = await page.textContent(`[data-birthday="${contactId}"]`)
    check(line.includes(`(lunar ${lunar.mmdd})`), `Today does not list the lunar birthday on ${lunar.day}: ${line}`)
  }
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('[data-done]')
  const doneId = await page.getAttribute('[data-done] >> nth=0', 'data-done')
  await page.click(`[data-done="${doneId}"]`)
  await page.waitForSelector(`[data-done="${doneId}"]`, { state: 'detached' })
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
  check(waiting >= 8, `the status line says ${waiting} changes wait, want at least 8`)
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
  const placed = await api('GET', `/api/collections/orders/records/${orderId}`, rep.token)
  const placedLines = await api('GET', '/api/collections/order_lines/records?filter=' + encodeURIComponent(`order = "${orderId}"`), rep.token)
  const sum = Math.round(placedLines.items.reduce((a, l) => a + l.line_total, 0) * 100) / 100
  check(placed.status === 'submitted' && placedLines.totalItems === 2 && placedLines.items.some((l) => l.quantity === 3) && placed.total === sum && sum > 0,
    `the order on the server: ${JSON.stringify(placed)} lines ${JSON.stringify(placedLines.items)}`)
  const deal = await api('GET', `/api/collections/opportunities/records/${dealId}`, rep.token)
  check(deal.title === 'Spring tasting' && deal.amount === 1200 && deal.stage === stages[1] && deal.weighted_amount > 0, `the deal on the server: ${JSON.stringify(deal)}`)
  if (contactId) {
    const k = await api('GET', `/api/collections/contacts/records/${contactId}`, rep.token)
    check(k.birthday === lunar.mmdd && k.birthday_calendar === 'lunar' && k.language === 'zh-CN',
      `the contact on the server: birthday ${k.birthday} (${k.birthday_calendar}), language ${k.language}`)
  }
  const done = await api('GET', `/api/collections/follow_ups/records/${doneId}`, rep.token)
  check(done.status === 'done', `the follow-up marked done is ${done.status} on the server`)
  await page.goto(BASE + `/app/#/order/${orderId}`)
  await page.waitForSelector('#order-total')
  check((await page.getAttribute('#order-total', 'data-estimate')) === 'no' && (await page.textContent('#order-total')).length > 0, 'the app does not show the server\'s total')
  await shoot(page, 'order-submitted')

  step('a record the server refuses is named, with the reason, until it is fixed')
  await page.goto(BASE + `/app/#/contact/new?customer=${target.id}`)
  await page.waitForSelector('#contact-form')
  await page.fill('#contact-form input[name=name]', 'Wrong Address')
  await page.fill('#contact-form input[name=email]', 'not-an-address')
  await page.click('#save-contact')
  await page.waitForFunction(() => /contacts\.email/.test(document.querySelector('#refused').textContent), null, { timeout: 15000 })
  check(Number(await page.getAttribute('#waiting', 'data-waiting')) === 1, 'the refused contact is not counted as waiting')
  await shoot(page, 'refused')
  await page.fill('#contact-form input[name=email]', 'wrong.address@example.com')
  await page.click('#save-contact')
  await settled(page, 'after fixing the refused contact')
  check(await page.isHidden('#refused'), 'the refusal is still shown after the fix')

  step('the app never sends what the server owns')
  const admin = (await api('POST', '/api/collections/_superusers/auth-with-password', null, { identity: env('ADMIN_EMAIL'), password: env('ADMIN_PASSWORD') })).token
  const logged = await api('GET', '/api/collections/sync_conflicts/records?filter=' + encodeURIComponent(`device ~ "web-" && rule ~ "server-owned"`), admin)
  check(logged.totalItems === 0, `the app sent server-owned fields: ${JSON.stringify(logged.items.map((c) => `${c.collection}.${c.field}`))}`)
  // in what it pushed: a new record holds WatermelonDB's empty value in every column the server owns, an
  // edit never names one in _changed
  const empty = (v) => v === null || v === '' || v === 0 || v === false || v === undefined
  let seenRecords = 0
  for (const body of pushes) {
    for (const [table, ch] of Object.entries(JSON.parse(body))) {
      for (const r of [...(ch.created || []), ...(ch.updated || [])]) {
        seenRecords++
        const set = r._status === 'created' ? owned[table].filter((c) => !empty(r[c])) : (r._changed || '').split(',').filter((c) => owned[table].includes(c))
        check(set.length === 0, `the app set ${table}.${set.join(', ')} (the server's) on ${r.id}`)
      }
    }
  }
  check(seenRecords >= 8, `only ${seenRecords} pushed records were seen`)

  step('the session is renewed a day after it was issued; signing out with unsynced work asks first')
  const before = await page.evaluate(() => JSON.parse(localStorage.getItem('rounds_session')))
  await page.evaluate(() => { const s = JSON.parse(localStorage.getItem('rounds_session')); s.at = Date.now() - 2 * 86400000; localStorage.setItem('rounds_session', JSON.stringify(s)) })
  await page.reload()
  await page.waitForFunction((old) => JSON.parse(localStorage.getItem('rounds_session')).token !== old, before.token, { timeout: 15000 })
  await settled(page, 'after renewing the session')
  await context.setOffline(true)
  await page.goto(BASE + `/app/#/customer/${target.id}`)
  await page.waitForSelector('#notes')
  await page.fill('#notes', 'Unsynced when signing out')
  await page.click('#save-notes')
  await page.waitForFunction(() => document.querySelector('#waiting').dataset.waiting !== '0')
  let asked = ''
  page.once('dialog', (d) => { asked = d.message(); d.dismiss() })
  await page.click('#signout')
  await page.waitForTimeout(300)
  check(/have not reached the server/.test(asked) && (await page.isVisible('#nav')), `signing out with unsynced work: asked ${JSON.stringify(asked)}`)
  await context.setOffline(false)
  await settled(page, 'the unsynced notes after all')

  step('the app shows the server\'s values')
  if (contactId) { // online: the invitation link for care messages, and its QR code
    await page.goto(BASE + `/app/#/contact/${contactId}`)
    await page.click('#invite')
    await page.waitForSelector('#invite-link svg.qr path')
    const href = await page.getAttribute('#invite-link a', 'href')
    check(/\/care\/register\?token=ey/.test(href) && (await page.getAttribute('#invite-link svg.qr path', 'd')).length > 100, `the invitation: ${href}`)
    await shoot(page, 'invite')
  }
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

  step('the rep switches to Chinese and back; a Chinese phone starts in Chinese')
  await Promise.all([page.waitForNavigation(), page.click('#lang')])
  await page.goto(BASE + '/app/#/today')
  await page.waitForSelector('main section h2')
  check((await page.textContent('main')).includes('今天的拜访') && (await page.textContent('#signout')) === '退出登录' &&
    (await page.getAttribute('html', 'lang')) === 'zh-CN', `after the switch: ${(await page.textContent('body')).slice(0, 200)}`)
  await shoot(page, 'today-zh')
  await page.click('#nav a[href="#/customers"]')
  await page.waitForSelector('#results li')
  await shoot(page, 'customers-zh')
  await Promise.all([page.waitForNavigation(), page.click('#lang')])
  await page.goto(BASE + '/app/#/today')
  await page.waitForSelector('main section h2')
  check((await page.textContent('main')).includes('Visits today'), 'the switch back to English')
  const zhContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 360, height: 780 } })
  const zhPage = await zhContext.newPage()
  await zhPage.goto(BASE + '/app/')
  await zhPage.waitForSelector('#signin-form')
  check((await zhPage.textContent('h1')) === '登录' && (await zhPage.textContent('#lang')) === 'English', `a Chinese phone's sign-in: ${await zhPage.textContent('h1')}`)
  await zhContext.close()

  check(errors.length === 0, `page errors: ${errors.join('; ')}`)
  await browser.close()
  step('app: ok')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
