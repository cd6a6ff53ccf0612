package app_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"rounds/app"
	"rounds/care"
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

// TestBirthdaysKeptAsTheServerKeepsThem: the app's calendar (the browser's
// Chinese calendar through Intl) keeps every birthday on the day the
// server's (care, from github.com/6tail/lunar-go) greets it, lunar and
// Gregorian, every day of 2000–2100 (leap months, 30ths of short months and
// 29 February included).
func TestBirthdaysKeptAsTheServerKeepsThem(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"src/calendar.js", "src/lunar-table.js"} {
		if _, err := os.ReadFile(f); err != nil { // read here too, so that go test's cache knows the files
			t.Fatal(err)
		}
	}
	script := `
import { celebratedOn } from './src/calendar.js'
const out = []
for (let ms = Date.UTC(2000, 0, 1); ms <= Date.UTC(2100, 11, 31); ms += 86400000) {
  const d = new Date(ms)
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]
  out.push(d.toISOString().slice(0, 10) + ' ' + celebratedOn(y, m, day, 'lunar').join(',') + ' ' + celebratedOn(y, m, day, 'gregorian').join(','))
}
console.log(out.join('\n'))
`
	out, err := exec.Command("node", "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	days, lunar30, leap := 0, 0, 0
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		f := strings.Split(strings.TrimRight(line, "\n"), " ")
		if len(f) != 3 {
			t.Fatalf("the script printed %q", line)
		}
		day, err := time.Parse(time.DateOnly, f[0])
		if err != nil {
			t.Fatal(err)
		}
		d := care.Date{Year: day.Year(), Month: day.Month(), Day: day.Day()}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		for _, c := range []struct {
			cal, app string
		}{{care.Lunar, f[1]}, {care.Gregorian, f[2]}} {
			if want := care.CelebratedIn(c.cal, d); !slices.Equal(split(c.app), want) {
				t.Errorf("%s: the app keeps the %s days %v, the server %v (lunar day %s)", f[0], c.cal, split(c.app), want, care.LunarOf(d))
			}
		}
		days++
		if strings.Contains(f[1], ",") {
			lunar30++
		}
		if f[1] == "" {
			leap++
		}
	}
	if days != 36890 || lunar30 == 0 || leap == 0 {
		t.Fatalf("%d days compared, %d with a 30th kept on a 29th, %d in leap months: the script did not cover 2000–2100", days, lunar30, leap)
	}
	t.Logf("%d days: %d lunar 30ths kept on the 29th, %d days of leap months", days, lunar30, leap)
}

// TestLunarTableIsTheServers: app/src/lunar-table.js holds the lunar months
// of 2000–2100 as the server computes them (care.LunarOf): the browser's own
// Chinese calendar (ICU) puts 春节 2027 and 2030 a day off the published
// dates, so the app carries the server's months. ROUNDS_WRITE_TABLES=1
// writes the file.
func TestLunarTableIsTheServers(t *testing.T) {
	t.Parallel()
	want := lunarTable()
	if os.Getenv("ROUNDS_WRITE_TABLES") == "1" {
		if err := os.WriteFile("src/lunar-table.js", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("src/lunar-table.js")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("src/lunar-table.js is not the server's lunar calendar: run ROUNDS_WRITE_TABLES=1 go test -run TestLunarTableIsTheServers ./app, then make app")
	}
}

// lunarTable writes the months of the lunar calendar that begin from December 1999
// to 2100: the first one's day (days since 1970-01-01) and one character a
// month, (month-1)*4 + 2 for a leap month + 1 for 30 days, in base 48.
func lunarTable() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
	var b strings.Builder
	first := -1
	for day := time.Date(1999, 12, 1, 12, 0, 0, 0, time.UTC); day.Year() <= 2100; day = day.AddDate(0, 0, 1) {
		l := care.LunarOf(care.Date{Year: day.Year(), Month: day.Month(), Day: day.Day()})
		if l.Day != 1 {
			continue
		}
		if first < 0 {
			first = int(day.Unix() / 86400)
		}
		v := (l.Month-1)*4 + l.MonthDays - 29
		if l.Leap {
			v += 2
		}
		b.WriteByte(digits[v])
	}
	return fmt.Sprintf(`// The lunar months (农历) from 2000 to 2100 as the server computes them
// (care.LunarOf, from github.com/6tail/lunar-go): written by
// ROUNDS_WRITE_TABLES=1 go test -run TestLunarTableIsTheServers ./app.
// FIRST is the day (since 1970-01-01) the first month begins; each character
// of MONTHS is a month in order: (month-1)*4 + 2 for a leap month + 1 for
// 30 days, in base 48 (DIGITS).
export const DIGITS = '%s'
export const FIRST = %d
export const MONTHS = '%s'
`, digits, first, b.String())
}
