package app_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"rounds/app"
)

// TestBuildMatchesTheSources rebuilds the app from src/ (and README's sync
// client) into a temporary directory and requires it to equal the
// committed dist/ that the binary embeds: `make app` after changing either.
func TestBuildMatchesTheSources(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("node_modules/esbuild"); err != nil {
		t.Fatal("the app's build tools are not installed: run `make test` (it runs npm ci in app/)")
	}
	out := t.TempDir()
	build := exec.Command("node", "build.mjs", "--out", out)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, msg)
	}
	built := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(out, p)
		built[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string]bool{}
	err = fs.WalkDir(app.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		embedded[p] = true
		data, err := fs.ReadFile(app.Files(), p)
		if err != nil {
			return err
		}
		if want, ok := built[p]; !ok {
			t.Errorf("dist/%s is not built from the sources any more: run `make app`", p)
		} else if !bytes.Equal(data, want) {
			t.Errorf("dist/%s differs from a build of the sources: run `make app` and commit dist/", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range built {
		if !embedded[p] {
			t.Errorf("the build makes %s, which dist/ lacks: run `make app`", p)
		}
	}
}

// TestStringsInEveryLanguage: every language of the reps' app has every
// string of the English table, of the same kind (a function takes the same
// arguments), and none is left in English by mistake where the words are
// meant to differ; the phone's languages pick the table.
func TestStringsInEveryLanguage(t *testing.T) {
	t.Parallel()
	script := `
import { tables, en, pick } from './src/strings.js'
const bad = []
for (const [lang, table] of Object.entries(tables)) {
  for (const [k, v] of Object.entries(en)) {
    const w = table[k]
    if (w === undefined) { bad.push(lang + ' lacks ' + k); continue }
    if (typeof w !== typeof v) bad.push(lang + ': ' + k + ' is a ' + typeof w + ', English a ' + typeof v)
    if (typeof v === 'function' && (w.length !== v.length || typeof w(3, 3) !== 'string' || !/3/.test(w(3, 3)) !== !/3/.test(v(3, 3)))) bad.push(lang + ': ' + k + ' does not take the same arguments')
    if (lang !== 'en' && typeof v === 'string' && v === w && !['appName'].includes(k)) bad.push(lang + ': ' + k + ' is still English: ' + v)
  }
  for (const k of Object.keys(table)) if (!(k in en)) bad.push(lang + ' has ' + k + ', English does not')
}
for (const [stored, langs, want] of [[null, ['zh-CN', 'en'], 'zh-CN'], [null, ['zh-TW'], 'zh-CN'], [null, ['de-DE', 'en-GB'], 'en'], [null, ['fr'], 'en'],
  ['en', ['zh-CN'], 'en'], ['zh-CN', ['en-US'], 'zh-CN'], ['xx', ['zh'], 'zh-CN']]) {
  if (pick(stored, langs) !== want) bad.push('pick(' + stored + ', ' + langs + ') = ' + pick(stored, langs) + ', want ' + want)
}
if (bad.length) { console.log(bad.join('\n')); process.exit(1) }
`
	if _, err := os.ReadFile("src/strings.js"); err != nil { // read here too, so that go test's cache knows the file
		t.Fatal(err)
	}
	out, err := exec.Command("node", "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
