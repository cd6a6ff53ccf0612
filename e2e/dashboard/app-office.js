// The reps' app while the office works and the rep has two phones, in
// Debian's Chromium (two browser contexts of one rep). The Go test
// (app_e2e_test.go) seeds and serves; this script:
//   - phone 1, offline, edits a visit and a customer's notes; meanwhile the
//     office deletes that visit, hands another customer of the rep to a
//     second rep and raises a product's price, and phone 2 edits the same
//     customer's notes and syncs;
//   - phone 1 comes back: nothing it wrote is lost (the visit is back, with
//     its notes; both phones' notes are kept), the customer handed away is
//     gone from its lists, the catalogue shows the new price, and phone 2
//     shows the merged notes after its next sync;
//   - a sync that ends while the rep types (notes, the catalogue's search)
//     leaves what is typed and the caret where they were;
//   - a busy server (a 429 with Retry-After): the app says it waits, then
//     gets in;
//   - a push whose answer never arrives (the server applied it): "Sync now"
//     sends it again and the server holds the visit once;
//   - the page closed while a push is in flight: the next start sends it
//     again, and the server holds the follow-up once.
//
// Environment: ROUNDS_URL, REP_EMAIL, OTHER_REP_EMAIL, PASSWORD, ADMIN_EMAIL,
// ADMIN_PASSWORD.
'use strict'

const { launch } = require('./browser')
const { env, BASE, check, step, api, settled } = require('./app-common')

async function phone(browser, name) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
  const page = await context.newPage()
  page.errors = []
  page.on('pageerror', (e) => page.errors.push(`${name}: ${e.message}`))
  await page.goto(BASE + '/app/')
  await page.fill('input[name=email]', env('REP_EMAIL'))
  await page.fill('input[name=password]', env('PASSWORD'))
  await page.click('#signin-button')
  await settled(page, `${name}'s first sync`)
  return { context, page }
}

async function syncNow(page, what) {
  await page.click('#sync-now')
  await settled(page, what)
}

// syncUnderTheRep runs a whole sync while the rep's caret stays where it
// is (the button is pressed by script, so the focus does not move), and
// proves the screen was drawn again after it.
async function syncUnderTheRep(page, what) {
  const before = await page.evaluate(() => {
    document.querySelector('#main > *').dataset.before = '1'
    return localStorage.getItem('rounds_last_sync')
  })
  await page.evaluate(() => document.querySelector('#sync-now').click())
  await page.waitForFunction((b) => localStorage.getItem('rounds_last_sync') !== b, before, { timeout: 30000 })
  await settled(page, what)
  await page.waitForFunction(() => !document.querySelector('#main > [data-before]'), null, { timeout: 10000 })
    .catch(() => { throw new Error(`${what}: the screen was not drawn again after the sync`) })
}

async function main() {
  const admin = (await api('POST', '/api/collections/_superusers/auth-with-password', null, { identity: env('ADMIN_EMAIL'), password: env('ADMIN_PASSWORD') })).token
  const rep = await api('POST', '/api/collections/users/auth-with-password', null, { identity: env('REP_EMAIL'), password: env('PASSWORD') })
  const other = await api('POST', '/api/collections/users/auth-with-password', null, { identity: env('OTHER_REP_EMAIL'), password: env('PASSWORD') })
  const mine = (await api('GET', '/api/collections/customers/records?perPage=200&sort=name&filter=' + encodeURIComponent(`owner = "${rep.record.id}"`), rep.token)).items
  check(mine.length >= 2, 'the rep needs two customers')
  const [x, z] = mine
  const visits = (await api('GET', '/api/collections/visits/records?perPage=1&filter=' + encodeURIComponent(`customer = "${x.id}"`), rep.token)).items
  check(visits.length === 1, `customer ${x.name} has no visit`)
  const v = visits[0]
  const product = (await api('GET', '/api/collections/products/records?perPage=1&filter=' + encodeURIComponent('active = true'), rep.token)).items[0]

  const browser = await launch()
  const one = await phone(browser, 'phone 1')
  const two = await phone(browser, 'phone 2')

  step('phone 1 offline edits a visit and the customer\'s notes')
  await one.context.setOffline(true)
  await one.page.goto(BASE + `/app/#/visit/${v.id}`)
  await one.page.waitForSelector('#visit-form')
  await one.page.fill('textarea[name=notes]', 'Phone 1: the owner wants a call on Friday')
  await one.page.click('#save-visit')
  await one.page.waitForFunction(() => document.querySelector('#visit-saved').textContent.length > 0)
  await one.page.goto(BASE + `/app/#/customer/${x.id}`)
  await one.page.waitForSelector('#notes')
  await one.page.fill('#notes', 'Phone 1: delivery at the back door')
  await one.page.click('#save-notes')

  step('meanwhile the office deletes the visit, hands a customer away, raises a price; phone 2 edits the notes')
  await api('DELETE', `/api/collections/visits/records/${v.id}`, admin)
  await api('PATCH', `/api/collections/customers/records/${z.id}`, admin, { owner: other.record.id })
  const newPrice = Math.round((product.unit_price + 1.11) * 100) / 100
  await api('PATCH', `/api/collections/products/records/${product.id}`, admin, { unit_price: newPrice })
  await two.page.goto(BASE + `/app/#/customer/${x.id}`)
  await two.page.waitForSelector('#notes')
  await two.page.fill('#notes', 'Phone 2: ask for Anna')
  await two.page.click('#save-notes')
  await settled(two.page, 'phone 2 after its edit')

  step('phone 1 comes back: nothing it wrote is lost, the customer handed away leaves it')
  await one.context.setOffline(false)
  await settled(one.page, 'phone 1 back online')
  await syncNow(one.page, 'phone 1 once more') // the tombstone's deletion follows one sync later
  const back = await api('GET', `/api/collections/visits/records/${v.id}`, rep.token)
  check(back.notes.includes('Phone 1: the owner wants a call on Friday'), `the deleted visit is not back with phone 1's notes: ${JSON.stringify(back)}`)
  const cx = await api('GET', `/api/collections/customers/records/${x.id}`, rep.token)
  check(cx.notes.includes('Phone 1: delivery at the back door') && cx.notes.includes('Phone 2: ask for Anna'), `the notes on the server: ${JSON.stringify(cx.notes)}`)
  await one.page.goto(BASE + '/app/#/customers')
  await one.page.waitForSelector('#search')
  await one.page.fill('#search', z.name)
  await one.page.waitForTimeout(100)
  const stillThere = await one.page.$$eval('#results li a', (as, id) => as.some((a) => a.getAttribute('href') === `#/customer/${id}`), z.id)
  check(!stillThere, `${z.name}, handed to another rep, is still on phone 1`)
  step('a sync while the rep types keeps what is typed, and the caret')
  await one.page.goto(BASE + `/app/#/customer/${x.id}`)
  await one.page.waitForSelector('#notes')
  const saved = await one.page.inputValue('#notes')
  const typing = saved + '\nHalf-typed: ask abo'
  await one.page.fill('#notes', typing)
  await syncUnderTheRep(one.page, 'the sync under the notes')
  check(await one.page.inputValue('#notes') === typing, `the typed notes became ${JSON.stringify(await one.page.inputValue('#notes'))}`)
  check(await one.page.evaluate(() => document.activeElement?.id) === 'notes', 'the caret left the notes')
  await one.page.fill('#notes', saved)
  await one.page.click('#save-notes')
  await settled(one.page, 'the notes put back')
  await one.page.click('#new-order')
  await one.page.waitForSelector('#catalogue')
  await one.page.fill('#catalogue', product.sku)
  await one.page.waitForFunction((p) => [...document.querySelectorAll('#catalogue-results li')].some((li) => li.textContent.includes(p)), product.sku)
  const shown = await one.page.textContent('#catalogue-results')
  const formatted = await one.page.evaluate(([n, c]) => new Intl.NumberFormat(undefined, { style: 'currency', currency: c, minimumFractionDigits: 0, maximumFractionDigits: 2 }).format(n), [newPrice, product.currency])
  check(shown.includes(formatted), `the catalogue does not show the new price ${formatted}: ${shown}`)
  await syncUnderTheRep(one.page, 'the sync under the catalogue search')
  check(await one.page.inputValue('#catalogue') === product.sku, 'the catalogue search was wiped by a sync')
  const after = await one.page.$$eval('#catalogue-results li', (lis) => lis.map((li) => li.textContent))
  check(after.length >= 1 && after.every((li) => li.includes(product.sku)), `after a sync the catalogue shows ${JSON.stringify(after)}`)
  await syncNow(two.page, 'phone 2 again')
  await two.page.goto(BASE + `/app/#/customer/${x.id}`)
  await two.page.waitForSelector('#notes')
  const merged = await two.page.inputValue('#notes')
  check(merged.includes('Phone 1') && merged.includes('Phone 2'), `phone 2 shows ${JSON.stringify(merged)}`)

  step('a busy server: the app says it waits, then gets in')
  let busy = true
  await one.page.route('**/api/sync/push**', (route) => {
    if (busy) {
      busy = false
      return route.fulfill({ status: 429, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 429, message: 'The server is busy' }) })
    }
    return route.continue()
  })
  await one.page.goto(BASE + `/app/#/customer/${x.id}`)
  await one.page.waitForSelector('#followup-form')
  await one.page.fill('#followup-form input[name=note]', 'Busy-server promise')
  await one.page.click('#followup-form button[type=submit]')
  await one.page.waitForFunction(() => /busy/.test(document.querySelector('#status').textContent), null, { timeout: 10000 })
  await settled(one.page, 'after the busy server')
  const promised = await api('GET', '/api/collections/follow_ups/records?filter=' + encodeURIComponent('note = "Busy-server promise"'), rep.token)
  check(promised.totalItems === 1, `${promised.totalItems} busy-server promises on the server`)
  await one.page.unroute('**/api/sync/push**')

  step('a push whose answer is lost: sent again, stored once')
  let lose = true
  await one.page.route('**/api/sync/push**', async (route) => {
    if (!lose) return route.continue()
    lose = false
    await route.fetch() // the server applies it...
    return route.abort('connectionreset') // ...and the phone never hears
  })
  await one.page.goto(BASE + `/app/#/customer/${x.id}`)
  await one.page.waitForSelector('#checkin')
  await one.page.click('#checkin')
  await one.page.waitForSelector('#visit-form')
  const visitId = one.page.url().split('/').pop()
  await one.page.waitForFunction(() => document.querySelector('#status').dataset.state === 'error', null, { timeout: 15000 })
  await syncNow(one.page, 'the sync after the lost answer')
  const stored = await api('GET', '/api/collections/visits/records?filter=' + encodeURIComponent(`id = "${visitId}"`), rep.token)
  check(stored.totalItems === 1, `${stored.totalItems} copies of the visit on the server`)

  step('the page closed in the middle of a push: the next start sends it again, stored once')
  await one.page.unroute('**/api/sync/push**')
  let held
  const arrived = new Promise((resolve) => { held = resolve })
  await one.page.route('**/api/sync/push**', async (route) => {
    held(true)
    await new Promise(() => {}) // never answered: the page closes while the push is in flight
  })
  await one.page.goto(BASE + `/app/#/customer/${x.id}`)
  await one.page.waitForSelector('#followup-form')
  await one.page.fill('#followup-form input[name=note]', 'Promised while closing')
  await one.page.click('#followup-form button[type=submit]')
  await arrived
  await one.page.close({ runBeforeUnload: false })
  const again = await one.context.newPage()
  again.errors = []
  again.on('pageerror', (e) => again.errors.push(`phone 1 reopened: ${e.message}`))
  await again.goto(BASE + '/app/#/today')
  await settled(again, 'phone 1 reopened after closing mid-push')
  const closing = await api('GET', '/api/collections/follow_ups/records?filter=' + encodeURIComponent('note = "Promised while closing"'), rep.token)
  check(closing.totalItems === 1, `${closing.totalItems} copies of the promise made while closing`)
  one.page = again

  const errors = [...one.page.errors, ...two.page.errors]
  check(errors.length === 0, `page errors: ${errors.join('; ')}`)
  await browser.close()
  step('the office and two phones: ok')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
