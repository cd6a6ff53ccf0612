package reminders_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
	"rounds/crm"
	"rounds/internal/testapp"
)

// TestCareStatusNamesTheNextGreetingAndTheLast draws contacts (calendar,
// birthday — 29 February, lunar 30ths and leap-month days among them —,
// consent, channel) and campaigns (calendar, day, tiers, active or not)
// from seeds, and checks each contact's care_status row: its consent in
// words, its channel, the next day its birthday is celebrated in its
// calendar and the next campaign for its customer's tier (against
// care.NextCelebration, which the published lunar tables check), and the
// latest message decided for it with what became of it.
func TestCareStatusNamesTheNextGreetingAndTheLast(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			careStatusScenario(t, seed)
		})
	}
}

func careStatusScenario(t *testing.T, seed uint64) {
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(seed, 77))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	today := care.DateOf(time.Now().UTC())
	tiers := map[string]string{testapp.CustomerA: "A", testapp.CustomerB: "A", testapp.CustomerX: "B"}
	type contact struct{ id, customer, calendar, birthday, consent, channel string }
	var contacts []contact
	col, _ := w.app.FindCollectionByNameOrId(crm.Contacts)
	for i := range 30 {
		c := contact{id: fmt.Sprintf("cscontact%06d", i), customer: pick(testapp.CustomerA, testapp.CustomerB, testapp.CustomerX),
			calendar: pick("", "gregorian", "lunar"), channel: pick("", "push", "email", "phone", "sms"), consent: pick("opted in", "opted out", "no consent")}
		for c.birthday == "" || (c.calendar != care.Lunar && crm.CheckBirthday(c.birthday) != nil) {
			c.birthday = pick("", "02-29", "12-30", "06-15", "01-01", today.MMDD(), fmt.Sprintf("%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(30)))
			if c.birthday == "" && rng.IntN(2) == 0 {
				break // no birthday at all
			}
		}
		r := core.NewRecord(col)
		r.Id = c.id
		r.Load(map[string]any{"customer": c.customer, "name": "Contact " + c.id, "birthday": c.birthday, "birthday_calendar": c.calendar,
			"preferred_channel": c.channel, "care_opt_in": c.consent == "opted in"})
		if c.consent == "opted out" {
			r.Set("opted_out_at", time.Now().AddDate(0, -1, 0))
		}
		if err := w.app.Save(r); err != nil {
			t.Fatal(err)
		}
		contacts = append(contacts, c)
	}
	type campaign struct {
		name, calendar, date string
		tiers                []string
		active               bool
	}
	camps := []campaign{{name: "New Year", date: "01-01", tiers: crm.Tiers, active: true}} // the fixture's
	campCol, _ := w.app.FindCollectionByNameOrId(crm.CareCampaigns)
	for i := range 8 {
		c := campaign{name: fmt.Sprintf("Campaign %d", i), calendar: pick("", "lunar"), tiers: [][]string{nil, {"A"}, {"B"}, {"A", "C"}}[rng.IntN(4)], active: rng.IntN(4) > 0}
		// days soon, so that they come before the fixture's New Year and each other
		c.date = care.CelebratedIn(c.calendar, care.DateOf(time.Now().UTC().AddDate(0, 0, rng.IntN(35))))[0]
		r := core.NewRecord(campCol)
		r.Load(map[string]any{"name": c.name, "calendar": c.calendar, "date": c.date, "title": "t", "body": "b", "tiers": c.tiers, "active": c.active})
		if err := w.app.Save(r); err != nil {
			t.Fatal(err)
		}
		if len(c.tiers) == 0 {
			c.tiers = crm.Tiers
		}
		camps = append(camps, c)
	}
	// some messages decided: a run on a day some of them celebrate
	w.run(time.Now().UTC().Truncate(time.Hour))

	var rows []struct {
		Contact  string `db:"contact"`
		Consent  string `db:"consent"`
		Channel  string `db:"channel"`
		Next     string `db:"next_birthday"`
		Holiday  string `db:"next_holiday"`
		Last     string `db:"last_message"`
		Birthday string `db:"birthday"`
	}
	if err := w.app.DB().NewQuery("SELECT contact, consent, channel, next_birthday, next_holiday, last_message, birthday FROM care_status").All(&rows); err != nil {
		t.Fatal(err)
	}
	if care.DateOf(time.Now().UTC()) != today {
		t.Skip("midnight UTC passed during the test")
	}
	byID := map[string]int{}
	for i, r := range rows {
		byID[r.Contact] = i
	}
	for _, c := range contacts {
		i, ok := byID[c.id]
		if !ok {
			t.Fatalf("seed %d: no care_status row for %s", seed, c.id)
		}
		r := rows[i]
		wantNext := ""
		if c.birthday != "" {
			wantNext = care.NextCelebration(c.calendar, c.birthday, today).String()
		}
		var wantHoliday string
		for _, camp := range camps {
			if !camp.active || !slices.Contains(camp.tiers, tiers[c.customer]) {
				continue
			}
			h := care.NextCelebration(camp.calendar, camp.date, today).String() + " " + camp.name
			if wantHoliday == "" || h < wantHoliday {
				wantHoliday = h
			}
		}
		wantChannel := c.channel
		if wantChannel == "" {
			wantChannel = "push"
		}
		var last []struct {
			Kind   string `db:"kind"`
			Status string `db:"status"`
			Error  string `db:"error"`
		}
		if err := w.app.DB().NewQuery("SELECT kind, status, error FROM notifications WHERE contact = {:c} AND audience = 'customer' ORDER BY created DESC, id DESC LIMIT 1").
			Bind(dbx.Params{"c": c.id}).All(&last); err != nil {
			t.Fatal(err)
		}
		wantLast := ""
		if len(last) == 1 {
			wantLast = last[0].Kind + ": " + last[0].Status
			if last[0].Error != "" {
				wantLast += " (" + last[0].Error + ")"
			}
		}
		if r.Consent != c.consent || r.Channel != wantChannel || r.Next != wantNext || r.Holiday != wantHoliday || r.Last != wantLast {
			t.Errorf("seed %d: %s (%s birthday %q, tier %s): got %+v, want consent %q channel %q next birthday %q next holiday %q last %q",
				seed, c.id, c.calendar, c.birthday, tiers[c.customer], r, c.consent, wantChannel, wantNext, wantHoliday, wantLast)
		}
	}
}
