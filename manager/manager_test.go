package manager

import (
	"os"
	"os/exec"
	"testing"
)

// TestWordsInEveryLanguage: every language of the managers' page has every
// word of the English table, of the same kind (a function takes the same
// arguments, a template names the same figures), none is left in English by
// mistake, every word app.js and index.html ask for exists, and the
// browser's languages pick the table.
func TestWordsInEveryLanguage(t *testing.T) {
	t.Parallel()
	script := `
const fs = require('fs')
const { WORDS, pickLanguage, fill } = require('./web/strings.js')
const en = WORDS.en
const bad = []
const same = new Set(['otherLanguage', 'otherLanguageLabel']) // each names the other language in its own words
const names = (s) => (s.match(/\{\w+\}/g) || []).sort().join()
function compare(lang, want, got, path) {
  for (const [k, v] of Object.entries(want)) {
    const key = path + k
    const w = got[k]
    if (w === undefined) { bad.push(lang + ' lacks ' + key); continue }
    if (typeof w !== typeof v) { bad.push(lang + ': ' + key + ' is a ' + typeof w + ', English a ' + typeof v); continue }
    if (typeof v === 'object') { compare(lang, v, w, key + '.'); continue }
    if (typeof v === 'function') {
      const args = ['Kim', 'Lee', '7', '9', '3'].slice(0, v.length)
      if (w.length !== v.length) bad.push(lang + ': ' + key + ' takes ' + w.length + ' arguments, English ' + v.length)
      // (an argument that chooses the words, such as 'overdue', is shown by neither)
      else for (const a of args) if (typeof w(...args) !== 'string' || w(...args).includes(a) !== v(...args).includes(a)) bad.push(lang + ': ' + key + ' does not show its argument ' + a + ' as English does: ' + w(...args))
      continue
    }
    if (names(v) !== names(w)) bad.push(lang + ': ' + key + ' names ' + names(w) + ', English ' + names(v))
    if (lang !== 'en' && v === w && !same.has(k)) bad.push(lang + ': ' + key + ' is still English: ' + v)
    if (lang !== 'en' && same.has(k) && v === w) bad.push(lang + ': ' + key + ' must name the other language')
  }
  for (const k of Object.keys(got)) if (!(k in want)) bad.push(lang + ' has ' + path + k + ', English does not')
}
for (const [lang, table] of Object.entries(WORDS)) compare(lang, en, table, '')
// what the page asks for
const app = fs.readFileSync('web/app.js', 'utf8')
for (const [, k] of app.matchAll(/\bT\.(\w+)/g)) if (!(k in en)) bad.push('app.js asks for T.' + k + ', which no table has')
for (const [, k] of app.matchAll(/\bloading\('(\w+)'\)/g)) if (!(k in en.what)) bad.push('app.js loads ' + k + ', which T.what lacks')
for (const [, k] of app.matchAll(/noun: '(\w+)'/g)) if (typeof en[k] !== 'function' || !(k in en.what)) bad.push('a list counts ' + k + ', which has no counted noun or loading word')
const html = fs.readFileSync('web/index.html', 'utf8')
for (const [, k] of html.matchAll(/data-t(?:-placeholder|-label)?="(\w+)"/g)) if (typeof en[k] !== 'string') bad.push('index.html asks for ' + k + ', which is not a word of the table')
for (const [stored, langs, want] of [[null, ['zh-CN', 'en'], 'zh-CN'], [null, ['zh-TW'], 'zh-CN'], [null, ['de-DE', 'en-GB'], 'en'], [null, ['fr'], 'en'],
  ['en', ['zh-CN'], 'en'], ['zh-CN', ['en-US'], 'zh-CN'], ['xx', ['zh'], 'zh-CN'], [null, undefined, 'en']]) {
  if (pickLanguage(stored, langs) !== want) bad.push('pickLanguage(' + stored + ', ' + langs + ') = ' + pickLanguage(stored, langs) + ', want ' + want)
}
const filled = fill('{a} of {b} {c}', { a: 1, b: 'x' })
if (JSON.stringify(filled) !== JSON.stringify([1, ' of ', 'x', ' ', '{c}'])) bad.push('fill: ' + JSON.stringify(filled))
if (bad.length) { console.log(bad.join('\n')); process.exit(1) }
`
	for _, f := range []string{"web/strings.js", "web/app.js", "web/index.html"} {
		if _, err := os.ReadFile(f); err != nil { // read here too, so that go test's cache knows the files
			t.Fatal(err)
		}
	}
	out, err := exec.Command("node", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
