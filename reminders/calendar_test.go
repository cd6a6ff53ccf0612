package reminders_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/reminders"
)

// TestGreetingsInTheirCalendarAndLanguage draws contacts (calendar,
// birthday, language, time zone, consent) and campaigns (Gregorian or
// lunar, tiers, a translation or not) from a seed, runs the job every two
// hours over 45 days around a lunar turning point (Chinese New Year after
// a short twelfth month, a leap sixth month, a leap 29 February), and
// compares every greeting decided with a model: one per contact, kind and
// day it is celebrated in the contact's calendar (campaigns in theirs),
// none without consent, each in the contact's language.
func TestGreetingsInTheirCalendarAndLanguage(t *testing.T) {
	t.Parallel()
	for seed, start := range []time.Time{
		time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), // 除夕 on 12-29, 春节 2025-01-29
		time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC),  // the leap sixth month begins 2025-07-25
		time.Date(2028, 2, 10, 0, 0, 0, 0, time.UTC), // 29 February 2028
		time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC), // 28 February 2027 celebrates 29 February
	} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			calendarScenario(t, uint64(seed), start, start.AddDate(0, 0, 45))
		})
	}
}

type drawnContact struct {
	id, customer, name, lang, calendar, birthday, zone string
	optIn                                              bool
}

func calendarScenario(t *testing.T, seed uint64, from, to time.Time) {
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(seed, 25))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	tiers := map[string]string{testapp.CustomerA: "A", testapp.CustomerB: "A", testapp.CustomerX: "B"}
	customers := []string{testapp.CustomerA, testapp.CustomerB, testapp.CustomerX}
	// birthdays worth drawing: the days the window holds, in both calendars, and a few others
	var days []string
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, care.CelebratedIn(care.Gregorian, care.DateOf(d))...)
		days = append(days, care.LunarCelebratedOn(care.DateOf(d))...)
	}
	days = append(days, "02-29", "12-30", "06-10", "01-01", "08-15", "11-30")
	// the fixture's contacts (Gregorian 03-02, English) and the drawn ones
	var contacts []drawnContact
	for _, id := range []string{testapp.ContactA, testapp.ContactB} {
		r, err := w.app.FindRecordById(crm.Contacts, id)
		if err != nil {
			t.Fatal(err)
		}
		contacts = append(contacts, drawnContact{id: id, customer: r.GetString("customer"), name: r.GetString("name"), birthday: "03-02", optIn: true})
	}
	col, _ := w.app.FindCollectionByNameOrId(crm.Contacts)
	for i := range 40 {
		c := drawnContact{
			id: fmt.Sprintf("calcontact%05d", i), customer: pick(customers...),
			name:     pick("Kim Buyer", "王小明", "Ana María López", "陈静", "Sam"),
			lang:     pick("", "en", "zh-CN", "zh-CN"),
			calendar: pick("", "gregorian", "lunar", "lunar"),
			zone:     pick("", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "Pacific/Pago_Pago"),
			optIn:    rng.IntN(5) > 0,
		}
		for c.birthday == "" || (c.calendar != care.Lunar && crm.CheckBirthday(c.birthday) != nil) {
			c.birthday = pick(days...)
		}
		r := core.NewRecord(col)
		r.Id = c.id
		r.Load(map[string]any{"customer": c.customer, "name": c.name, "language": c.lang, "birthday_calendar": c.calendar,
			"birthday": c.birthday, "timezone": c.zone, "care_opt_in": c.optIn})
		if err := w.app.Save(r); err != nil {
			t.Fatalf("contact %+v: %v", c, err)
		}
		contacts = append(contacts, c)
	}
	// campaigns: the fixture's New Year, and drawn ones, some translated
	type campaign struct {
		id, calendar, date, title string
		tiers                     []string
		zh                        string // the zh-CN template's title, "" for none
	}
	camps := []campaign{{id: testapp.Campaign, date: "01-01", title: "Happy New Year", tiers: crm.Tiers}}
	campCol, _ := w.app.FindCollectionByNameOrId(crm.CareCampaigns)
	tplCol, _ := w.app.FindCollectionByNameOrId(crm.CareTemplates)
	for i := range 5 {
		c := campaign{id: fmt.Sprintf("calcampaign%04d", i), calendar: pick("", "lunar", "lunar"), title: fmt.Sprintf("Greetings %d", i)}
		for c.date == "" || (c.calendar != care.Lunar && crm.CheckBirthday(c.date) != nil) {
			c.date = pick(days...)
		}
		c.tiers = [][]string{nil, {"A"}, {"B"}, {"A", "B"}}[rng.IntN(4)]
		r := core.NewRecord(campCol)
		r.Id = c.id
		r.Load(map[string]any{"name": c.title, "calendar": c.calendar, "date": c.date, "title": c.title, "body": "Best wishes", "tiers": c.tiers, "active": true})
		if err := w.app.Save(r); err != nil {
			t.Fatalf("campaign %+v: %v", c, err)
		}
		if len(c.tiers) == 0 {
			c.tiers = crm.Tiers
		}
		if rng.IntN(2) == 0 {
			c.zh = "{name}，节日快乐 " + fmt.Sprint(i)
			tpl := core.NewRecord(tplCol)
			tpl.Load(map[string]any{"kind": crm.KindHolidayGreeting, "campaign": c.id, "language": "zh-CN", "title": c.zh, "body": "祝您节日快乐"})
			if err := w.app.Save(tpl); err != nil {
				t.Fatal(err)
			}
		}
		camps = append(camps, c)
	}

	for at := from; at.Before(to); at = at.Add(2 * time.Hour) {
		w.run(at)
	}

	// the model: what was due, for days whose whole window lies in the run
	inRun := func(loc *time.Location, day care.Date, window care.Window) bool {
		open := time.Date(day.Year, day.Month, day.Day, window.Start.Hour, window.Start.Minute, 0, 0, loc)
		shut := time.Date(day.Year, day.Month, day.Day, window.End.Hour, window.End.Minute, 0, 0, loc)
		return !open.Before(from) && !shut.After(to)
	}
	want := map[string]string{} // dedup key -> title
	for _, c := range contacts {
		loc := care.Zone(time.UTC, c.zone, "Europe/Berlin") // the fixture's customers are in Berlin (rep X's in New York)
		if c.zone == "" && c.customer == testapp.CustomerX {
			loc = care.Zone(time.UTC, "America/New_York")
		}
		lang := crm.LanguageOf(c.lang)
		for d := from.AddDate(0, 0, -1); d.Before(to.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
			day := care.DateOf(d)
			if inRun(loc, day, care.BirthdayWindow) && slices.Contains(care.CelebratedIn(c.calendar, day), c.birthday) {
				title := "Happy birthday, " + strings.Fields(c.name)[0] + "!"
				if lang == "zh-CN" {
					title = c.name + "，生日快乐！"
				}
				if !c.optIn {
					title = "no consent"
				}
				want[fmt.Sprintf("birthday:%s:%s", c.id, day)] = title
			}
			for _, camp := range camps {
				if inRun(loc, day, care.HolidayWindow) && slices.Contains(care.CelebratedIn(camp.calendar, day), camp.date) &&
					slices.Contains(camp.tiers, tiers[c.customer]) {
					title := camp.title
					if lang == "zh-CN" && camp.zh != "" {
						title = strings.ReplaceAll(camp.zh, "{name}", c.name)
					}
					if !c.optIn {
						title = "no consent"
					}
					want[fmt.Sprintf("holiday:%s:%s:%s", camp.id, c.id, day)] = title
				}
			}
		}
	}
	// what the job decided (sent, or skipped for want of a device), on the
	// days the model judges
	got := map[string]string{}
	var rows []struct {
		Key    string `db:"dedup_key"`
		Title  string `db:"title"`
		Status string `db:"status"`
		Error  string `db:"error"`
	}
	if err := w.app.DB().NewQuery("SELECT dedup_key, title, status, error FROM notifications WHERE audience = 'customer' AND id != {:fixture}").
		Bind(dbx.Params{"fixture": testapp.Notification}).All(&rows); err != nil {
		t.Fatal(err)
	}
	byID := map[string]drawnContact{}
	for _, c := range contacts {
		byID[c.id] = c
	}
	for _, r := range rows {
		parts := strings.Split(r.Key, ":")
		c, ok := byID[parts[len(parts)-2]]
		if !ok {
			t.Fatalf("a greeting to someone unknown: %s", r.Key)
		}
		if !c.optIn && (r.Status != "skipped" || r.Error != reminders.ReasonNoConsent) {
			t.Errorf("%s: a greeting to a contact who never opted in: %s %q", r.Key, r.Status, r.Error)
		}
		if c.optIn && r.Error == reminders.ReasonNoConsent {
			t.Errorf("%s: %q for a contact who opted in", r.Key, r.Error)
		}
		if !c.optIn {
			r.Title = "no consent"
		}
		day, _ := time.Parse(time.DateOnly, parts[len(parts)-1])
		window := care.BirthdayWindow
		if parts[0] == "holiday" {
			window = care.HolidayWindow
		}
		loc := care.Zone(time.UTC, c.zone, "Europe/Berlin")
		if c.zone == "" && c.customer == testapp.CustomerX {
			loc = care.Zone(time.UTC, "America/New_York")
		}
		if inRun(loc, care.DateOf(day), window) {
			got[r.Key] = r.Title
		}
	}
	for k, title := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("seed %d: %s was due (%q) and nothing was decided", seed, k, title)
		} else if g != title {
			t.Errorf("seed %d: %s went out as %q, want %q", seed, k, g, title)
		}
	}
	for k, title := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("seed %d: %s (%q) was not due", seed, k, title)
		}
	}
	if len(want) < 5 {
		t.Errorf("seed %d: only %d greetings were due; the draw tests little", seed, len(want))
	}
	t.Logf("seed %d: %d greetings due and decided, %d of them lunar", seed, len(want), countLunar(want, contacts))
}

func countLunar(want map[string]string, contacts []drawnContact) int {
	n := 0
	for k := range want {
		for _, c := range contacts {
			if c.calendar == care.Lunar && strings.HasPrefix(k, "birthday:"+c.id+":") {
				n++
			}
		}
	}
	return n
}

// TestDigestNamesBirthdaysInTheirCalendar: the rep's morning digest names
// tomorrow's birthdays each in its own calendar. 2026-03-03 is lunar
// 01-15 (元宵节): a lunar 01-15 birthday is named on the 2nd, a Gregorian
// 01-15 one is not, and a lunar 03-03 one is not either.
func TestDigestNamesBirthdaysInTheirCalendar(t *testing.T) {
	t.Parallel()
	if got := care.LunarCelebratedOn(care.Date{Year: 2026, Month: time.March, Day: 3}); !slices.Equal(got, []string{"01-15"}) {
		t.Fatalf("2026-03-03 is lunar %v, the test expects 01-15", got)
	}
	for _, c := range []struct {
		calendar, birthday string
		named              bool
	}{{"lunar", "01-15", true}, {"gregorian", "01-15", false}, {"lunar", "03-03", false}, {"", "03-03", true}} {
		w := newWorld(t)
		w.set("contacts", testapp.ContactA, map[string]any{"birthday": c.birthday, "birthday_calendar": c.calendar})
		w.run(utc(2026, 3, 2, 7, 5)) // 08:05 in Berlin
		d := w.rows("rep_digest")["digest:"+testapp.UserRepA+":2026-03-02"]
		if d == nil {
			t.Fatal("no digest")
		}
		if named := strings.Contains(d.GetString("body"), "Contact of userrepa0000001"); named != c.named {
			t.Errorf("%s birthday %s: named in the digest %v, want %v: %s", c.calendar, c.birthday, named, c.named, d.GetString("body"))
		}
	}
}
