package reminders_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/push"
	"rounds/reminders"
)

// TestEveryDueGreetingIsDecidedOnceWithItsReason draws contacts from a seed
// (channel, address, phone number, consent, time zone, quiet hours, weekly
// maximum, a registered phone or not) and campaigns, runs the job every 20
// minutes over twelve days with the server down for a day and a half
// somewhere in them, and compares the outbox with a model written from the
// rules: every greeting due leaves exactly one row, sent or saying why not
// (no consent, opted out, quiet hours, weekly maximum, its window passed
// while the server was down, no address, no phone number, no device, mail
// not configured, no SMS); nobody without consent gets one; a customer who
// prefers a call becomes a follow-up for their rep, due at the first minute
// of the window outside their quiet hours, which the rep's digest names.
func TestEveryDueGreetingIsDecidedOnceWithItsReason(t *testing.T) {
	t.Parallel()
	reasons := make([]map[string]int, 3)
	t.Run("seeds", func(t *testing.T) {
		for seed := range reasons {
			t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
				t.Parallel()
				reasons[seed] = channelScenario(t, uint64(seed))
			})
		}
	})
	// the draws must reach every outcome, or the test proves less than it says
	all := map[string]int{}
	for _, r := range reasons {
		for k, v := range r {
			all[k] += v
		}
	}
	for _, want := range []string{"sent push", "call", reminders.ReasonNoConsent, reminders.ReasonOptedOut, reminders.ReasonNoEmail,
		reminders.ReasonNoPhone, reminders.ReasonNoSMS, reminders.ReasonNoRep, push.MailNotConfigured, "no registered device",
		"quiet hours", "weekly maximum", reminders.ReasonDown} {
		if all[want] == 0 {
			t.Errorf("no greeting ended %q in any seed: %v", want, all)
		}
	}
	t.Logf("outcomes over %d seeds: %v", len(reasons), all)
}

type chContact struct {
	id, customer, name, channel, email, phone, zone, quietStart, quietEnd, birthday string
	optIn, optedOut, device, stopped                                                bool
	weeklyMax                                                                       int
}

type chGreeting struct {
	key, what string
	c         *chContact
	day       care.Date
	window    care.Window
	order     string // the job's order within a run: birthdays, then holidays by day and campaign
}

type chOutcome struct {
	status, reason string // status "sent" (push), "call", or "skipped"
	at             time.Time
	callAt         time.Time
}

func channelScenario(t *testing.T, seed uint64) map[string]int {
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(seed, 2512))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	from := time.Date(2026, time.Month(5+rng.IntN(4)), 1+rng.IntN(20), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 12)
	down := from.Add(time.Duration(2*24+rng.IntN(6*24)) * time.Hour)
	up := down.Add(time.Duration(30+rng.IntN(12)) * time.Hour)

	repXActive := seed != 1 && rng.IntN(3) > 0
	if !repXActive {
		w.set(crm.Users, testapp.UserRepX, map[string]any{"active": false})
	}
	zones := map[string]string{testapp.CustomerA: "Europe/Berlin", testapp.CustomerB: "Europe/Berlin", testapp.CustomerX: "America/New_York"}
	reps := map[string]string{testapp.CustomerA: testapp.UserRepA, testapp.CustomerB: testapp.UserRepB, testapp.CustomerX: testapp.UserRepX}
	var days []string // clear of the run's first and last days, which some zones see only in part
	for d := from.AddDate(0, 0, 2); d.Before(to.AddDate(0, 0, -2)); d = d.AddDate(0, 0, 1) {
		days = append(days, care.DateOf(d).MMDD())
	}
	quiet := [][2]string{{"", ""}, {"", ""}, {"22:00", "07:00"}, {"09:00", "10:30"}, {"10:00", "13:00"}, {"08:00", "12:30"}, {"12:00", "09:30"}}
	col, _ := w.app.FindCollectionByNameOrId(crm.Contacts)
	devCol, _ := w.app.FindCollectionByNameOrId(crm.ContactDevices)
	var contacts []*chContact
	for i := range 45 {
		q := quiet[rng.IntN(len(quiet))]
		c := &chContact{
			id: fmt.Sprintf("chcontact%06d", i), customer: pick(testapp.CustomerA, testapp.CustomerB, testapp.CustomerX),
			name:    pick("Kim Buyer", "王小明", "Ana María López", "Sam"),
			channel: pick("", "push", "email", "email", "phone", "phone", "sms"),
			email:   pick("", fmt.Sprintf("c%d@example.test", i), fmt.Sprintf("c%d@example.test", i)),
			phone:   pick("", "+49 30 1234567", "+1 212 555 0100"),
			zone:    pick("", "", "Asia/Shanghai", "America/Los_Angeles", "Pacific/Auckland", "Pacific/Pago_Pago"),
			optIn:   rng.IntN(4) > 0, quietStart: q[0], quietEnd: q[1],
			weeklyMax: []int{0, 0, 1, 2}[rng.IntN(4)],
			birthday:  pick(days...),
			device:    rng.IntN(3) > 0,
			stopped:   rng.IntN(6) == 0,
		}
		c.optedOut = !c.optIn && rng.IntN(2) == 0
		r := core.NewRecord(col)
		r.Id = c.id
		r.Load(map[string]any{"customer": c.customer, "name": c.name, "preferred_channel": c.channel, "email": c.email, "phone": c.phone,
			"timezone": c.zone, "care_opt_in": c.optIn, "quiet_start": c.quietStart, "quiet_end": c.quietEnd, "weekly_max": c.weeklyMax,
			"birthday": c.birthday})
		if c.optedOut {
			r.Set("opted_out_at", from.AddDate(0, -1, 0))
		}
		if c.stopped {
			r.Set("email_stopped_at", from.AddDate(0, 0, -3))
		}
		if err := w.app.Save(r); err != nil {
			t.Fatalf("contact %+v: %v", c, err)
		}
		if c.device {
			d := core.NewRecord(devCol)
			d.Load(map[string]any{"contact": c.id, "token": "fcm-" + c.id, "platform": "android"})
			if err := w.app.Save(d); err != nil {
				t.Fatal(err)
			}
		}
		contacts = append(contacts, c)
	}
	// three campaigns for every tier on drawn days (two may share one)
	campCol, _ := w.app.FindCollectionByNameOrId(crm.CareCampaigns)
	type campaign struct{ id, name, date string }
	var camps []campaign
	for i := range 3 {
		c := campaign{id: fmt.Sprintf("chcampaign%05d", i), name: pick("Spring Fair", "端午节", "Founders' Day") + fmt.Sprint(" ", i), date: pick(days...)}
		r := core.NewRecord(campCol)
		r.Id = c.id
		r.Load(map[string]any{"name": c.name, "date": c.date, "title": "Greetings", "body": "Best wishes", "active": true})
		if err := w.app.Save(r); err != nil {
			t.Fatal(err)
		}
		camps = append(camps, c)
	}

	// the greetings due: days wholly inside the run
	locOf := func(c *chContact) *time.Location {
		return care.Zone(time.UTC, c.zone, zones[c.customer], "")
	}
	var due []*chGreeting
	for _, c := range contacts {
		loc := locOf(c)
		for d := from.AddDate(0, 0, -1); d.Before(to.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
			day := care.DateOf(d)
			start := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, loc)
			if start.Before(from) || start.AddDate(0, 0, 1).After(to) {
				continue
			}
			if day.MMDD() == c.birthday {
				due = append(due, &chGreeting{key: fmt.Sprintf("birthday:%s:%s", c.id, day), what: "birthday", c: c, day: day,
					window: care.BirthdayWindow, order: "0 " + day.String()})
			}
			for _, camp := range camps {
				if day.MMDD() == camp.date {
					due = append(due, &chGreeting{key: fmt.Sprintf("holiday:%s:%s:%s", camp.id, c.id, day), what: camp.name, c: c, day: day,
						window: care.HolidayWindow, order: "1 " + day.String() + " " + camp.id})
				}
			}
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].order < due[j].order })

	// the model, run by run
	var runs []time.Time
	for at := from; at.Before(to); at = at.Add(20 * time.Minute) {
		if at.Before(down) || !at.Before(up) {
			runs = append(runs, at)
		}
	}
	want := map[string]*chOutcome{}
	counts := func(c *chContact, now time.Time, thisRun map[string]bool) int {
		n := 0
		for _, g := range due {
			o := want[g.key]
			if g.c != c || o == nil {
				continue
			}
			switch {
			case thisRun[g.key] && o.status != "skipped" || thisRun[g.key] && o.reason == "no registered device" || thisRun[g.key] && o.reason == push.MailNotConfigured:
				n++ // pending when counted: delivery comes at the end of the run
			case !thisRun[g.key] && (o.status == "sent" || o.status == "call") && !o.at.Before(now.Add(-7*24*time.Hour)):
				n++
			}
		}
		return n
	}
	var prev time.Time
	for _, now := range runs {
		thisRun := map[string]bool{}
		for _, g := range due {
			if want[g.key] != nil {
				continue
			}
			c := g.c
			loc := locOf(c)
			local := now.In(loc)
			today := care.DateOf(local)
			if today.String() < g.day.String() {
				continue
			}
			open := time.Date(g.day.Year, g.day.Month, g.day.Day, g.window.Start.Hour, g.window.Start.Minute, 0, 0, loc)
			shut := time.Date(g.day.Year, g.day.Month, g.day.Day, g.window.End.Hour, g.window.End.Minute, 0, 0, loc)
			phone := c.channel == crm.ChannelPhone
			if today == g.day && now.Before(open) && !phone {
				continue
			}
			o := &chOutcome{status: "skipped", at: now}
			quietAt := func(t time.Time) bool {
				if c.quietStart == "" {
					return false
				}
				s, _ := care.ParseClock(c.quietStart)
				e, _ := care.ParseClock(c.quietEnd)
				m, sm, em := t.Hour()*60+t.Minute(), s.Hour*60+s.Minute, e.Hour*60+e.Minute
				if sm < em {
					return m >= sm && m < em
				}
				return m >= sm || m < em
			}
			firstOpen := func() (time.Time, bool) {
				t := local
				if t.Before(open) {
					t = open
				}
				t = t.Truncate(time.Minute)
				if t.Before(local) {
					t = t.Add(time.Minute)
				}
				for ; t.Before(shut); t = t.Add(time.Minute) {
					if !quietAt(t) {
						return t, true
					}
				}
				return time.Time{}, false
			}
			windowWords := "its window (" + g.window.Start.String() + "–" + g.window.End.String() + " local time) "
			switch {
			case !c.optIn && c.optedOut:
				o.reason = reminders.ReasonOptedOut
			case !c.optIn:
				o.reason = reminders.ReasonNoConsent
			case !now.Before(shut) && (prev.IsZero() || prev.Before(shut)):
				o.reason = windowWords + reminders.ReasonDown
			case !now.Before(shut):
				o.reason = windowWords + reminders.ReasonLate
			case c.channel == crm.ChannelSMS:
				o.reason = reminders.ReasonNoSMS
			case c.channel == crm.ChannelEmail && c.email == "":
				o.reason = reminders.ReasonNoEmail
			case c.channel == crm.ChannelEmail && c.stopped:
				o.reason = reminders.ReasonStopped
			case phone && c.phone == "":
				o.reason = reminders.ReasonNoPhone
			case phone && c.customer == testapp.CustomerX && !repXActive:
				o.reason = reminders.ReasonNoRep
			case c.weeklyMax > 0 && counts(c, now, thisRun) >= c.weeklyMax:
				o.reason = fmt.Sprintf("weekly maximum of %d reached", c.weeklyMax)
			case phone:
				if at, ok := firstOpen(); ok {
					o.status, o.callAt = "call", at
				} else {
					o.reason = "quiet hours (" + c.quietStart + "–" + c.quietEnd + ") cover the rest of its window"
				}
			case quietAt(local):
				if _, ok := firstOpen(); ok {
					continue // wait: the quiet hours end inside the window
				}
				o.reason = "quiet hours (" + c.quietStart + "–" + c.quietEnd + ") cover the rest of its window"
			case c.channel == crm.ChannelEmail:
				o.reason = push.MailNotConfigured // the test's server has no SMTP
			case !c.device:
				o.reason = "no registered device"
			default:
				o.status = "sent"
			}
			want[g.key] = o
			thisRun[g.key] = true
		}
		w.run(now)
		prev = now
	}

	// the outbox
	var rows []struct {
		Key     string `db:"dedup_key"`
		Status  string `db:"status"`
		Error   string `db:"error"`
		Channel string `db:"channel"`
		Title   string `db:"title"`
		User    string `db:"user"`
		Data    string `db:"data"`
	}
	if err := w.app.DB().NewQuery(`SELECT dedup_key, status, error, channel, title, user, data FROM notifications
		WHERE audience = 'customer' AND id != {:fixture}`).Bind(dbx.Params{"fixture": testapp.Notification}).All(&rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	outcomes := map[string]int{}
	for _, r := range rows {
		got[r.Key]++
		o, ok := want[r.Key]
		if !ok {
			g := slices.IndexFunc(due, func(g *chGreeting) bool { return g.key == r.Key })
			if g >= 0 {
				t.Errorf("seed %d: %s was due and the model decided nothing, the job wrote %s %q", seed, r.Key, r.Status, r.Error)
			}
			continue // a day only partly inside the run
		}
		c := due[slices.IndexFunc(due, func(g *chGreeting) bool { return g.key == r.Key })].c
		if !c.optIn && (r.Status == push.Sent || r.Status == push.Pending) {
			t.Errorf("seed %d: %s went to a contact without consent", seed, r.Key)
		}
		switch o.status {
		case "sent":
			if r.Status != push.Sent || r.Channel != "" {
				for _, g := range due {
					if g.c == c {
						t.Logf("%s: %+v", g.key, want[g.key])
					}
				}
				t.Errorf("seed %d: %s: %s %s %q, want a push sent", seed, r.Key, r.Channel, r.Status, r.Error)
			}
			outcomes["sent push"]++
		case "call":
			if r.Status != push.Sent || r.Channel != crm.ChannelPhone || r.User != reps[c.customer] || r.Title != "Call "+c.name+": "+dueOf(due, r.Key).what {
				t.Errorf("seed %d: %s: %s %s for %s %q, want a call by %s", seed, r.Key, r.Channel, r.Status, r.User, r.Title, reps[c.customer])
			}
			checkCall(t, w, seed, c, r.Data, o, reps[c.customer], r.Title)
			outcomes["call"]++
		default:
			if r.Status != push.Skipped || r.Error != o.reason {
				t.Errorf("seed %d: %s (%s, channel %q): %s %q, want skipped %q", seed, r.Key, c.id, c.channel, r.Status, r.Error, o.reason)
			}
			switch {
			case strings.HasPrefix(o.reason, "quiet hours"):
				outcomes["quiet hours"]++
			case strings.HasPrefix(o.reason, "weekly maximum"):
				outcomes["weekly maximum"]++
			case strings.HasSuffix(o.reason, reminders.ReasonDown):
				outcomes[reminders.ReasonDown]++
			default:
				outcomes[o.reason]++
			}
		}
	}
	for _, g := range due {
		if got[g.key] != 1 {
			t.Errorf("seed %d: %s (%s, channel %q, opt-in %v) has %d rows, want exactly one", seed, g.key, g.c.id, g.c.channel, g.c.optIn, got[g.key])
		}
	}
	// no push twice
	sent := map[string]int{}
	for _, m := range w.rec.Sent {
		sent[m.CollapseKey]++
		if sent[m.CollapseKey] > 1 && strings.Contains(m.CollapseKey, "chcontact") {
			t.Errorf("seed %d: %s pushed twice", seed, m.CollapseKey)
		}
	}
	checkDigestsNameCalls(t, w, seed, runs, due, want, reps)
	t.Logf("seed %d: %d greetings due over %s – %s (down %s – %s): %v", seed, len(due), from.Format(time.DateOnly), to.Format(time.DateOnly),
		down.Format(time.DateTime), up.Format(time.DateTime), outcomes)
	return outcomes
}

func dueOf(due []*chGreeting, key string) *chGreeting {
	return due[slices.IndexFunc(due, func(g *chGreeting) bool { return g.key == key })]
}

// checkCall: the call is a follow-up of the customer's rep, open, due at the
// model's minute, saying whom to call and why.
func checkCall(t *testing.T, w *world, seed uint64, c *chContact, data string, o *chOutcome, rep, note string) {
	t.Helper()
	var f []struct {
		ID       string `db:"id"`
		Due      string `db:"due_at"`
		Assignee string `db:"assignee"`
		Note     string `db:"note"`
		Contact  string `db:"contact"`
		Customer string `db:"customer"`
	}
	if err := w.app.DB().NewQuery(`SELECT id, due_at, assignee, note, contact, customer FROM follow_ups WHERE id = json_extract({:d}, '$.follow_up')`).
		Bind(dbx.Params{"d": data}).All(&f); err != nil {
		t.Fatal(err)
	}
	if len(f) != 1 {
		t.Errorf("seed %d: a call for %s without its follow-up (%s)", seed, c.id, data)
		return
	}
	wantDue := o.callAt.UTC().Format("2006-01-02 15:04:05.000Z")
	if f[0].Due != wantDue || f[0].Assignee != rep || f[0].Note != note || f[0].Contact != c.id || f[0].Customer != c.customer {
		t.Errorf("seed %d: the call for %s is %+v, want due %s for %s: %q", seed, c.id, f[0], wantDue, rep, note)
	}
}

// checkDigestsNameCalls: a rep's morning digest names the calls decided by
// its run that are due that day in the rep's time zone.
func checkDigestsNameCalls(t *testing.T, w *world, seed uint64, runs []time.Time, due []*chGreeting, want map[string]*chOutcome, reps map[string]string) {
	t.Helper()
	digests := w.rows("rep_digest")
	named := 0
	for _, g := range due {
		o := want[g.key]
		if o == nil || o.status != "call" {
			continue
		}
		rep := reps[g.c.customer]
		loc := care.Zone(time.UTC, map[string]string{testapp.UserRepX: "America/New_York"}[rep], "Europe/Berlin")
		day := care.DateOf(o.callAt.In(loc))
		d := digests["digest:"+rep+":"+day.String()]
		if d == nil {
			continue // no digest that day (the server was down, or the rep is inactive)
		}
		// the digest's run: the first at or after 08:00 on that day
		var digestRun time.Time
		for _, r := range runs {
			if care.DateOf(r.In(loc)) == day && care.DigestWindow.Contains(r.In(loc)) {
				digestRun = r
				break
			}
		}
		note := "Call " + g.c.name + ": " + g.what
		if o.at.After(digestRun) {
			continue // decided after the digest went out
		}
		if !strings.Contains(d.GetString("body"), note) {
			t.Errorf("seed %d: the digest of %s on %s does not name %q: %s", seed, rep, day, note, d.GetString("body"))
		}
		named++
	}
	t.Logf("seed %d: %d calls named in digests", seed, named)
}
