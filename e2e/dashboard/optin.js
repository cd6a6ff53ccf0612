// The double opt-in as a customer does it, on a phone: open the invite
// (the browser speaks Chinese, so the page does), switch to English and
// back, type an address, receive the confirmation (MAILBOX answers the
// link the SMTP server received), open it, and confirm. Each page is
// checked for clipped or overflowing text at 390 and 360 px and
// photographed at both sizes and on a desktop.
'use strict'

const { launch } = require('./browser')

const base = process.env.ROUNDS_URL
const shots = process.env.SHOTS
const address = process.env.ADDRESS

function fail(msg) {
  console.error('FAIL: ' + msg)
  process.exit(1)
}

// overflow lists the elements whose text does not fit their box
async function overflow(page) {
  return page.evaluate(() => {
    const bad = []
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) bad.push('the page scrolls sideways')
    for (const el of document.querySelectorAll('h1, h2, p, label, button, a, input')) {
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible') bad.push(el.tagName + ': ' + el.textContent.slice(0, 60))
      const r = el.getBoundingClientRect()
      if (r.right > window.innerWidth + 1) bad.push(el.tagName + ' runs off the screen: ' + (el.textContent || el.value).slice(0, 60))
    }
    return bad
  })
}

async function look(page, name) {
  for (const width of [390, 360, 1280]) {
    await page.setViewportSize({ width, height: width > 400 ? 800 : 780 })
    const bad = await overflow(page)
    if (bad.length) fail(`${name} at ${width} px: ${bad.join('; ')}`)
    const body = await page.textContent('body')
    if (/\bnull\b|\bundefined\b|NaN|%!|%s/.test(body)) fail(`${name} at ${width} px shows ${body.match(/\bnull\b|\bundefined\b|NaN|%!|%s/)[0]}: ${body.slice(0, 200)}`)
    await page.screenshot({ path: `${shots}/optin-${name}-${width}.png`, fullPage: true })
  }
  await page.setViewportSize({ width: 390, height: 780 })
}

async function link() {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(process.env.MAILBOX)
    if (res.status === 200) return (await res.json()).link
    await new Promise((r) => setTimeout(r, 100))
  }
  fail('no confirmation e-mail reached ' + address)
}

;(async () => {
  const browser = await launch()
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 780 } })
  const page = await context.newPage()
  const res = await page.goto(base + process.env.INVITE)
  if (res.status() !== 200) fail('the invite answered ' + res.status())
  if (!(await page.textContent('h1')).includes('您好')) fail('the invite does not greet in Chinese: ' + (await page.textContent('h1')))
  await look(page, 'invite-zh')

  await page.click('a.lang')
  if (!(await page.textContent('h1')).startsWith('Hello')) fail('the switch to English did not switch: ' + (await page.textContent('h1')))
  await look(page, 'invite-en')
  await page.click('a.lang')
  if (!(await page.textContent('h1')).includes('您好')) fail('the switch back to Chinese did not switch')

  await page.fill('#email', address)
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  const sent = await page.textContent('#sent').catch(() => '')
  if (!sent.includes(address[0] + '***@')) fail('no word of the link sent: ' + (await page.textContent('body')).slice(0, 300))
  await look(page, 'sent')

  const confirm = new URL(await link())
  await page.goto(base + confirm.pathname + confirm.search)
  if (!(await page.textContent('body')).includes(address)) fail('the confirmation page does not name the address')
  await look(page, 'confirm')
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
  if (!(await page.textContent('h1')).includes('谢谢')) fail('not confirmed: ' + (await page.textContent('body')).slice(0, 300))
  await look(page, 'confirmed')
  await browser.close()
  console.log('double opt-in done for ' + address)
})().catch((e) => fail(e.stack || String(e)))
