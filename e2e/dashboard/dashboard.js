// The PocketBase dashboard (/_/) in Debian's Chromium: sign in as a
// superuser, look at stuck_devices (the stuck phone and why), customers,
// sync_conflicts and notifications, and
// rename a customer through the record form. Screenshots go to SHOTS.
//
// Environment: ROUNDS_URL, ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_NAME,
// NEW_NAME, STUCK_DEVICE, SHOTS.
'use strict'

const { launch } = require('./browser')
const path = require('path')
const fs = require('fs')

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}

async function main() {
  const base = env('ROUNDS_URL')
  const shots = env('SHOTS')
  fs.mkdirSync(shots, { recursive: true })
  const browser = await launch()
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    const shot = (name) => page.screenshot({ path: path.join(shots, name + '.png') })

    await page.goto(base + '/_/')
    await page.fill('#login_identity', env('ADMIN_EMAIL'))
    await page.fill('#login_pass', env('ADMIN_PASSWORD'))
    await page.click('button:has-text("Login")')
    await page.waitForSelector('text=New collection', { timeout: 15000 })
    await shot('1-signed-in')

    for (const collection of ['stuck_devices', 'sync_conflicts', 'notifications', 'customers']) {
      await page.goto(`${base}/_/#/collections?collection=${collection}`)
      await page.reload() // a full load: no count left over from the previous list
      try {
        await page.waitForFunction(() => /Total: [1-9]/.test(document.body.innerText), null, { timeout: 15000 })
      } catch (e) {
        throw new Error(`${collection} shows no records`)
      }
      if (collection === 'stuck_devices') {
        // one click from the sidebar, and the row says which phone and why
        const text = await page.textContent('body')
        for (const want of [process.env.STUCK_DEVICE, 'can no longer change']) {
          if (!text.includes(want)) throw new Error(`stuck_devices does not show ${JSON.stringify(want)}`)
        }
      }
      await shot(`2-${collection}`)
    }

    await page.click(`text=${env('CUSTOMER_NAME')}`)
    const name = page.locator('textarea[name="name"]')
    await name.waitFor({ timeout: 15000 })
    // the panel fills its form when the record has loaded; typing earlier is overwritten and leaves
    // nothing to save (seen on a loaded machine)
    await page.waitForFunction(
      (n) => document.querySelector('textarea[name="name"]')?.value === n,
      env('CUSTOMER_NAME'),
      { timeout: 15000 },
    )
    await name.fill(env('NEW_NAME'))
    await shot('3-editing')
    await page.click('button:has-text("Save changes")')
    await page.waitForSelector(`text=${env('NEW_NAME')}`, { timeout: 15000 })
    await shot('4-saved')
    process.stdout.write('ok: signed in, browsed 4 collections, renamed a customer\n')
  } finally {
    await browser.close()
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`FAIL: ${e.stack || e}\n`)
  process.exit(1)
})
