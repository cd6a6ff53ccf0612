package reminders_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/push"
	"rounds/reminders"
)

// The fixture: contacts A and B have their birthday on 03-02 and opted in;
// their customers and rep A are in Europe/Berlin; only A has a phone.

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

type world struct {
	t   *testing.T
	app *tests.TestApp
	rec *push.Recorder
}

func newWorld(t *testing.T) *world {
	return &world{t: t, app: testapp.New(t), rec: &push.Recorder{}}
}

func (w *world) run(at time.Time) reminders.Stats {
	w.t.Helper()
	st, err := reminders.Run(context.Background(), w.app, at, reminders.Config{
		Sender:         w.rec,
		PreferencesURL: func(c string) (string, error) { return "https://rounds.test/care/preferences?token=for-" + c, nil },
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) set(collection, id string, fields map[string]any) {
	w.t.Helper()
	r, err := w.app.FindRecordById(collection, id)
	if err != nil {
		w.t.Fatal(err)
	}
	r.Load(fields)
	if err := w.app.Save(r); err != nil {
		w.t.Fatal(err)
	}
}

// sent lists the messages of one kind that went out.
func (w *world) sent(kind string) []push.Message {
	var out []push.Message
	for _, m := range w.rec.Sent {
		if m.Data["kind"] == kind {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) rows(kind string) map[string]*core.Record {
	w.t.Helper()
	out := map[string]*core.Record{}
	rows, err := w.app.FindRecordsByFilter("notifications", "kind = {:k}", "", 0, 0, dbx.Params{"k": kind})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range rows {
		if r.Id != testapp.Notification { // the fixture's, a year old
			out[r.GetString("dedup_key")] = r
		}
	}
	return out
}

func TestBirthdayGreetingOnceOnTheMorning(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.run(utc(2026, 3, 2, 7, 30)) // 08:30 in Berlin: too early
	if len(w.rows("birthday_greeting")) != 0 {
		t.Fatal("a greeting before 09:00 local")
	}
	w.run(utc(2026, 3, 2, 8, 5)) // 09:05 in Berlin
	rows := w.rows("birthday_greeting")
	a, b := rows["birthday:"+testapp.ContactA+":2026-03-02"], rows["birthday:"+testapp.ContactB+":2026-03-02"]
	if a == nil || a.GetString("status") != "sent" || b == nil || b.GetString("status") != "skipped" || !strings.Contains(b.GetString("error"), "no registered device") {
		t.Fatalf("rows: %v", rows)
	}
	greetings := w.sent("birthday_greeting")
	if len(greetings) != 1 || greetings[0].Token != "fcm-contact-a" {
		t.Fatalf("greetings sent: %+v", greetings)
	}
	m := greetings[0]
	if !strings.HasPrefix(m.Title, "Happy birthday, Contact") || m.Data["preferences_url"] == "" || m.CollapseKey != a.GetString("dedup_key") {
		t.Fatalf("message %+v", m)
	}
	// the end of the recipient's day bounds delivery
	if want := time.Date(2026, 3, 2, 23, 59, 59, 0, time.UTC).Add(-time.Hour); !m.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", m.ExpiresAt, want)
	}
	for _, at := range []time.Time{utc(2026, 3, 2, 8, 6), utc(2026, 3, 2, 9, 30)} {
		w.run(at)
	}
	if n := len(w.sent("birthday_greeting")); n != 1 {
		t.Fatalf("%d greetings sent in all, want exactly one", n)
	}
}

func TestGreetingsFollowEachPersonsTimeZone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("contacts", testapp.ContactA, map[string]any{"timezone": "America/New_York"}) // the contact's own zone wins
	w.run(utc(2026, 3, 2, 8, 5))                                                        // 03:05 in New York
	if _, ok := w.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2026-03-02"]; ok {
		t.Fatal("greeted at 3 a.m. local")
	}
	w.run(utc(2026, 3, 2, 14, 5)) // 09:05 in New York
	if r := w.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2026-03-02"]; r == nil || r.GetString("status") != "sent" {
		t.Fatalf("no greeting at 09:05 New York time: %v", r)
	}
}

func TestGreetingAcrossADSTChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// 8 March 2026: New York springs forward; 09:00 EDT is 13:00 UTC
	w.set("contacts", testapp.ContactA, map[string]any{"timezone": "America/New_York", "birthday": "03-08"})
	w.run(utc(2026, 3, 8, 12, 59)) // 08:59 EDT
	if len(w.sent("birthday_greeting")) != 0 {
		t.Fatal("sent before 09:00 local on the DST day")
	}
	w.run(utc(2026, 3, 8, 13, 1))
	if len(w.sent("birthday_greeting")) != 1 {
		t.Fatalf("%d sent at 09:01 EDT", len(w.sent("birthday_greeting")))
	}
}

func Test29FebruaryBirthdays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("contacts", testapp.ContactA, map[string]any{"birthday": "02-29"})
	w.run(utc(2027, 2, 28, 8, 30)) // 09:30 in Berlin on 28 February of a common year
	if r := w.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2027-02-28"]; r == nil || r.GetString("status") != "sent" {
		t.Fatalf("no greeting on 28 February 2027: %v", w.rows("birthday_greeting"))
	}
	w.run(utc(2027, 3, 1, 8, 30))
	if len(w.sent("birthday_greeting")) != 1 {
		t.Fatal("greeted again on 1 March")
	}
	w2 := newWorld(t)
	w2.set("contacts", testapp.ContactA, map[string]any{"birthday": "02-29"})
	w2.run(utc(2028, 2, 28, 8, 30)) // a leap year: wait for the 29th
	w2.run(utc(2028, 2, 29, 8, 30))
	if _, ok := w2.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2028-02-29"]; !ok || len(w2.sent("birthday_greeting")) != 1 {
		t.Fatalf("leap year: %v", w2.rows("birthday_greeting"))
	}
}

func TestQuietHoursAndCatchUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("contacts", testapp.ContactA, map[string]any{"quiet_start": "09:00", "quiet_end": "10:00"})
	w.run(utc(2026, 3, 2, 8, 30)) // 09:30 Berlin: quiet
	if len(w.sent("birthday_greeting")) != 0 {
		t.Fatal("sent during quiet hours")
	}
	w.run(utc(2026, 3, 2, 9, 45)) // after downtime, 10:45 Berlin: still inside the window
	if len(w.sent("birthday_greeting")) != 1 {
		t.Fatal("no catch-up inside the window")
	}

	late := newWorld(t)
	late.run(utc(2026, 3, 2, 10, 30)) // the server was down all morning: 11:30 Berlin
	r := late.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2026-03-02"]
	if len(late.sent("birthday_greeting")) != 0 || r == nil || r.GetString("status") != "skipped" || !strings.Contains(r.GetString("error"), "window") {
		t.Fatalf("a greeting outside its window: sent %d, row %v", len(late.sent("birthday_greeting")), r)
	}
}

func TestOptOutAndWeeklyMaximum(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("contacts", testapp.ContactA, map[string]any{"care_opt_in": false, "opted_out_at": utc(2026, 2, 1, 9, 0)})
	w.run(utc(2026, 3, 2, 8, 30))
	// B's is skipped for want of a device; A's says the customer opted out
	if a := w.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2026-03-02"]; len(w.sent("birthday_greeting")) != 0 ||
		len(w.rows("birthday_greeting")) != 2 || a == nil || a.GetString("status") != "skipped" || a.GetString("error") != reminders.ReasonOptedOut {
		t.Fatalf("opted-out contact greeted, or no reason given: %v", a)
	}

	m := newWorld(t)
	m.set("contacts", testapp.ContactA, map[string]any{"weekly_max": 1})
	// the fixture's greeting to A went out a year ago; make it two days ago
	m.set("notifications", testapp.Notification, map[string]any{"sent_at": utc(2026, 2, 28, 9, 0), "audience": "customer"})
	m.run(utc(2026, 3, 2, 8, 30))
	r := m.rows("birthday_greeting")["birthday:"+testapp.ContactA+":2026-03-02"]
	if len(m.sent("birthday_greeting")) != 0 || r == nil || !strings.Contains(r.GetString("error"), "weekly maximum of 1") {
		t.Fatalf("weekly maximum ignored: sent %d, row %v", len(m.sent("birthday_greeting")), r)
	}
}

func TestFollowUpReachesEveryRepDeviceAndNoCustomer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c, _ := w.app.FindCollectionByNameOrId("devices")
	d := core.NewRecord(c)
	d.Load(map[string]any{"user": testapp.UserRepA, "token": "fcm-token-a-tablet", "platform": "android"})
	if err := w.app.Save(d); err != nil {
		t.Fatal(err)
	}
	// FollowUpA is due on 4 March at 10:00 UTC (11:00 in Berlin)
	w.run(utc(2026, 3, 4, 9, 59))
	if len(w.rows("follow_up_due")) != 0 {
		t.Fatal("reminded before the due time")
	}
	w.run(utc(2026, 3, 4, 10, 0))
	var got []string
	for _, m := range w.rec.Sent {
		if m.Data["follow_up"] == testapp.FollowUpA {
			if m.Data["kind"] != "follow_up_due" {
				t.Fatalf("message %+v", m)
			}
			got = append(got, m.Token)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"fcm-token-a", "fcm-token-a-tablet"}) { // both of rep A's phones, no customer's
		t.Fatalf("follow-up sent to %v", got)
	}
}

func TestFollowUpDueAtNightWaitsForTheMorning(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("follow_ups", testapp.FollowUpA, map[string]any{"due_at": utc(2026, 3, 4, 22, 0)}) // 23:00 Berlin
	w.run(utc(2026, 3, 4, 22, 1))
	w.run(utc(2026, 3, 5, 5, 59)) // 06:59 Berlin
	for key := range w.rows("follow_up_due") {
		if strings.HasPrefix(key, "follow_up:"+testapp.FollowUpA+":") {
			t.Fatal("reminded at night")
		}
	}
	w.run(utc(2026, 3, 5, 6, 0)) // 07:00 Berlin
	found := false
	for key := range w.rows("follow_up_due") {
		found = found || strings.HasPrefix(key, "follow_up:"+testapp.FollowUpA+":")
	}
	if !found {
		t.Fatal("no reminder when the window opened")
	}
}

func TestMorningDigest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.set("contacts", testapp.ContactA, map[string]any{"birthday": "03-03"})
	w.run(utc(2026, 3, 2, 7, 5)) // 08:05 in Berlin
	d := w.rows("rep_digest")["digest:"+testapp.UserRepA+":2026-03-02"]
	if d == nil || !strings.Contains(d.GetString("body"), "Birthdays tomorrow: Contact of userrepa0000001") {
		t.Fatalf("digest: %v", w.rows("rep_digest"))
	}
	if _, ok := w.rows("rep_digest")["digest:"+testapp.UserRepX+":2026-03-02"]; ok {
		t.Fatal("rep X (New York, 02:05) got a digest")
	}
}

// TestDigestNamesDealsToChase: the morning digest names the rep's open
// deals that are stalled (longer in their stage than its maximum) and those
// whose expected close has passed; not closed deals, not another rep's.
func TestDigestNamesDealsToChase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	st := crm.DefaultStages // Negotiation: 14 days at most
	deal := func(id, customer, title string, stage int, entered, close time.Time) {
		c, _ := w.app.FindCollectionByNameOrId(crm.Opportunities)
		r := core.NewRecord(c)
		r.Id = id
		r.Load(map[string]any{"customer": customer, "title": title, "amount": 100, "currency": "EUR",
			"stage": st[stage].ID, "lost_reason": "price", "expected_close": close})
		if err := w.app.Save(r); err != nil {
			t.Fatal(err)
		}
		// as if it had entered its stage then (the server stamps the save's time)
		if _, err := w.app.DB().NewQuery("UPDATE opportunities SET stage_entered_at = {:e} WHERE id = {:id}").
			Bind(dbx.Params{"e": entered.UTC().Format("2006-01-02 15:04:05.000Z"), "id": id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	now := utc(2026, 3, 2, 7, 5) // 08:05 in Berlin
	deal("dealstalled0001", testapp.CustomerA, "Shelf extension", 3, now.AddDate(0, 0, -20), now.AddDate(0, 1, 0))
	deal("dealfresh000001", testapp.CustomerA, "Coffee corner", 3, now.AddDate(0, 0, -2), now.AddDate(0, 1, 0))
	deal("deallate0000001", testapp.CustomerA, "Spring range", 2, now.AddDate(0, 0, -2), now.AddDate(0, 0, -3))
	deal("dealwonlate0001", testapp.CustomerA, "Won already", 4, now.AddDate(0, 0, -40), now.AddDate(0, 0, -30))
	deal("dealofrepb00001", testapp.CustomerB, "Rep B's deal", 3, now.AddDate(0, 0, -20), now.AddDate(0, 0, -3))
	w.run(now)
	body := w.rows("rep_digest")["digest:"+testapp.UserRepA+":2026-03-02"].GetString("body")
	for _, want := range []string{"Stalled deals: Shelf extension (Shop of userrepa0000001).", "Past their expected close: Spring range (Shop of userrepa0000001)."} {
		if !strings.Contains(body, want) {
			t.Fatalf("digest %q lacks %q", body, want)
		}
	}
	for _, not := range []string{"Coffee corner", "Won already", "Rep B's deal"} {
		if strings.Contains(body, not) {
			t.Fatalf("digest %q names %q", body, not)
		}
	}
}

func TestHolidayGreetingsByTier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	camp, _ := w.app.FindRecordById("care_campaigns", testapp.Campaign)
	camp.Set("tiers", []string{"B"}) // customers A and B are tier A
	if err := w.app.Save(camp); err != nil {
		t.Fatal(err)
	}
	w.run(utc(2027, 1, 1, 9, 30)) // 10:30 Berlin on New Year's Day
	if len(w.rows("holiday_greeting")) != 0 {
		t.Fatal("a tier-B campaign reached tier-A customers")
	}
	camp.Set("tiers", []string{})
	_ = w.app.Save(camp)
	w.run(utc(2027, 1, 1, 9, 31))
	if r := w.rows("holiday_greeting")["holiday:"+testapp.Campaign+":"+testapp.ContactA+":2027-01-01"]; r == nil || r.GetString("status") != "sent" {
		t.Fatalf("holiday greeting: %v", w.rows("holiday_greeting"))
	}
}

func TestOutboxOnlyMode(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	if _, err := reminders.Run(context.Background(), app, utc(2026, 3, 2, 8, 5), reminders.Config{}); err != nil {
		t.Fatal(err)
	}
	r, err := app.FindFirstRecordByFilter("notifications", "dedup_key = {:k}", dbx.Params{"k": "birthday:" + testapp.ContactA + ":2026-03-02"})
	if err != nil || r.GetString("status") != "skipped" || r.GetString("error") != push.NotConfigured {
		t.Fatalf("outbox-only: %v %v", r, err)
	}
}

// TestDigestListsCustomersDue: the morning digest lists the rep's customers
// due for a visit today or overdue, each judged in its own time zone, A
// first and the most overdue first; not those due later, not another rep's.
func TestDigestListsCustomersDue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	now := utc(2026, 3, 2, 7, 5) // 08:05 in Berlin
	add := func(id, name, tier, zone string, due time.Time, owner string) {
		c, _ := w.app.FindCollectionByNameOrId(crm.Customers)
		r := core.NewRecord(c)
		r.Id = id
		r.Load(map[string]any{"name": name, "owner": owner, "timezone": zone})
		if err := w.app.Save(r); err != nil {
			t.Fatal(err)
		}
		// the tier and the due date as the tiers job and the visits left them
		if _, err := w.app.DB().NewQuery("UPDATE customers SET tier = {:t}, next_visit_due = {:d} WHERE id = {:id}").
			Bind(dbx.Params{"t": tier, "d": due.UTC().Format("2006-01-02 15:04:05.000Z"), "id": id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.app.DB().NewQuery("UPDATE customers SET next_visit_due = '2026-04-01 00:00:00.000Z'").Execute(); err != nil {
		t.Fatal(err) // the fixtures' customers are not due
	}
	add("dueccustomer001", "Corner Kiosk", "C", "Europe/Berlin", utc(2026, 2, 20, 9, 0), testapp.UserRepA) // 10 days overdue
	add("dueacustomer001", "Big Market", "A", "Europe/Berlin", utc(2026, 3, 1, 9, 0), testapp.UserRepA)    // 1 day overdue
	add("dueacustomer002", "Grand Hotel", "A", "Europe/Berlin", utc(2026, 3, 2, 16, 0), testapp.UserRepA)  // today
	add("duetokyo0000001", "Tokyo Tea", "B", "Asia/Tokyo", utc(2026, 3, 2, 20, 0), testapp.UserRepA)       // 3 March in Tokyo: not yet
	add("duetokyo0000002", "Osaka Sushi", "B", "Asia/Tokyo", utc(2026, 3, 1, 16, 0), testapp.UserRepA)     // 2 March 01:00 in Tokyo: today
	add("duelater0000001", "Later Shop", "A", "Europe/Berlin", utc(2026, 3, 3, 9, 0), testapp.UserRepA)    // tomorrow
	add("duerepb00000001", "Rep B's shop", "A", "Europe/Berlin", utc(2026, 2, 1, 9, 0), testapp.UserRepB)  // another rep
	w.run(now)
	body := w.rows("rep_digest")["digest:"+testapp.UserRepA+":2026-03-02"].GetString("body")
	want := "Visits due: 2 today, 2 overdue — Big Market (A, 1 day overdue), Grand Hotel (A, due today), Osaka Sushi (B, due today), Corner Kiosk (C, 10 days overdue)."
	if !strings.Contains(body, want) {
		t.Fatalf("digest:\n%s\nwant it to contain\n%s", body, want)
	}
}

// TestDigestTellsOfAStuckPhone: the morning digest names the rep's stuck
// phone (stuck_devices), since when in the rep's time, how many records
// and the latest reason, on that one digest of the day; a phone that is
// not stuck, and another rep's stuck phone, are not named.
func TestDigestTellsOfAStuckPhone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	device := func(id, user, name, since string, refused int) {
		if _, err := w.app.DB().NewQuery(`INSERT INTO sync_devices (id, user, device_id, user_agent, last_pull_at, last_push_at, last_sync_at, refused, stuck_since, created, updated)
			VALUES ({:id}, {:u}, {:d}, 'RoundsApp/3', '', '', '', {:n}, {:s}, '', '')`).
			Bind(dbx.Params{"id": id, "u": user, "d": name, "n": refused, "s": since}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	device("stuckdevrepa001", testapp.UserRepA, "pixel-anna", "2026-03-01 16:30:00.000Z", 2)
	device("finedevrepa0001", testapp.UserRepA, "tablet-anna", "", 0)
	device("stuckdevrepb001", testapp.UserRepB, "pixel-ben", "2026-03-01 16:30:00.000Z", 5)
	c, _ := w.app.FindCollectionByNameOrId(crm.SyncConflicts)
	r := core.NewRecord(c)
	r.Load(map[string]any{"collection": "order_lines", "record_id": "line1", "resolution": "rejected", "user": testapp.UserRepA,
		"device": "pixel-anna", "rule": "the order is submitted: its lines no longer change", "count": 3, "last_seen_at": "2026-03-02 06:00:00.000Z"})
	if err := w.app.Save(r); err != nil {
		t.Fatal(err)
	}
	w.run(utc(2026, 3, 2, 7, 5)) // 08:05 in Berlin
	w.run(utc(2026, 3, 2, 7, 6))
	body := w.rows("rep_digest")["digest:"+testapp.UserRepA+":2026-03-02"].GetString("body")
	want := "Phone pixel-anna (RoundsApp/3) has not synced everything since Mar 1, 17:30: the server refuses 2 records — latest: order_lines line1: the order is submitted: its lines no longer change. Open the app to see what to fix."
	if !strings.Contains(body, want) {
		t.Fatalf("digest %q lacks %q", body, want)
	}
	for _, not := range []string{"tablet-anna", "pixel-ben"} {
		if strings.Contains(body, not) {
			t.Fatalf("digest %q names %q", body, not)
		}
	}
	told := 0
	for _, m := range w.sent("rep_digest") {
		told += strings.Count(m.Body, "pixel-anna")
	}
	if told > 1 {
		t.Fatal("the stuck phone was told more than once on the day")
	}
}

// TestFollowUpKeyInSQLIsTheJobs: the dedup key the job's query computes for
// a follow-up (to leave out the ones decided) is the key the job writes,
// for due times drawn from a seed (any millisecond, any year 2000–2100).
func TestFollowUpKeyInSQLIsTheJobs(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	rng := rand.New(rand.NewPCG(26, 1))
	for i := range 500 {
		due := time.UnixMilli(946684800000 + rng.Int64N(3155760000000)).UTC()
		if i == 0 {
			due = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC) // a whole second
		}
		id := fmt.Sprintf("fu%013d", i)
		var got string
		if err := app.DB().NewQuery("SELECT " + reminders.FollowUpKeySQLForTest + " FROM (SELECT {:id} AS id, {:due} AS due_at) f").
			Bind(dbx.Params{"id": id, "due": due.Format(types.DefaultDateLayout)}).Row(&got); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("follow_up:%s:%d", id, due.UnixMilli()); got != want {
			t.Fatalf("due %s: the query's key %q, the job's %q", due.Format(time.RFC3339Nano), got, want)
		}
	}
}
