// launch starts Debian's Chromium (CHROMIUM, else /usr/bin/chromium)
// headless for the browser tests; playwright-core never downloads one.
'use strict'

const { chromium } = require('playwright-core')

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

module.exports = { launch }
