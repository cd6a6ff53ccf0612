package hooks_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
	rsync "rounds/sync"
	"rounds/tiers"
)

// TestNextVisitDueSQLMatchesGo: the SQL the migration, the seed and a change
// of settings use gives the same next_visit_due as the Go every save uses,
// on random customers in a real SQLite.
func TestNextVisitDueSQLMatchesGo(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	customers, _ := app.FindCollectionByNameOrId(crm.Customers)
	rng := rand.New(rand.NewPCG(3, 4))
	cv := crm.Coverage{MainCurrency: "EUR", AShare: 80, BShare: 95, CycleA: 7 + rng.IntN(10), CycleB: 20 + rng.IntN(20), CycleC: 60 + rng.IntN(60), RevenueMonths: 12}
	for i := range 200 {
		r := core.NewRecord(customers)
		r.Id = fmt.Sprintf("sqlgocustomer%02d", i%100) + strconv.Itoa(i/100)
		r.Load(map[string]any{"name": r.Id, "owner": testapp.UserRepA})
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		last := ""
		if rng.IntN(4) > 0 {
			last = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(500 * 24 * time.Hour)))).Truncate(time.Millisecond).Format(crm.DateLayout)
		}
		if _, err := app.DB().NewQuery("UPDATE customers SET tier = {:t}, visit_every_days = {:e}, last_visit_at = {:l} WHERE id = {:id}").
			Bind(dbx.Params{"t": []string{"A", "B", "C", ""}[rng.IntN(4)], "e": []int{0, 0, 0, 5, 45}[rng.IntN(5)], "l": last, "id": r.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		ID      string `db:"id"`
		Tier    string `db:"tier"`
		Every   int    `db:"visit_every_days"`
		Last    string `db:"last_visit_at"`
		Created string `db:"created"`
		SQL     string `db:"due"`
	}
	if err := app.DB().NewQuery("SELECT id, tier, CAST(visit_every_days AS INTEGER) AS visit_every_days, last_visit_at, created, " + crm.NextVisitDueSQL(cv) + " AS due FROM customers").All(&rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		c := stored{"tier": r.Tier, "visit_every_days": float64(r.Every), "last_visit_at": r.Last, "created": r.Created}
		crm.ScheduleVisits(c, cv, time.Now())
		if c.GetString("next_visit_due") != r.SQL {
			t.Fatalf("%s (tier %q, every %d, last %q): Go %s, SQL %s", r.ID, r.Tier, r.Every, r.Last, c.GetString("next_visit_due"), r.SQL)
		}
	}
}

type stored map[string]any

func (s stored) GetString(f string) string { v, _ := s[f].(string); return v }
func (s stored) GetFloat(f string) float64 { v, _ := s[f].(float64); return v }
func (s stored) GetInt(f string) int       { return int(s.GetFloat(f)) }
func (s stored) Set(f string, v any)       { s[f] = v }

// TestVisitCycleOnEveryPath: last_visit_at and next_visit_due follow the
// customer's checked-in visits whichever path writes them — a rep over
// REST, the dashboard, a sync push — and a change of the settings or of the
// customer's own cycle; the oracle is the latest checked-in visit plus the
// cycle, computed here from the visits.
func TestVisitCycleOnEveryPath(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	expect := func(step string) {
		t.Helper()
		var last string
		_ = app.DB().NewQuery("SELECT COALESCE(MAX(checked_in_at), '') FROM visits WHERE customer = {:c} AND checked_in_at != ''").Bind(dbx.Params{"c": testapp.CustomerA}).Row(&last)
		c, _ := app.FindRecordById(crm.Customers, testapp.CustomerA)
		s, _ := app.FindRecordById(crm.CompanySettings, crm.CompanySettingsID)
		cycle := c.GetInt("visit_every_days")
		if cycle == 0 {
			cycle = s.GetInt(map[string]string{"A": "cycle_a_days", "B": "cycle_b_days", "C": "cycle_c_days"}[c.GetString("tier")])
		}
		want := c.GetString("created")
		if last != "" {
			l, _ := time.Parse(crm.DateLayout, last)
			want = l.AddDate(0, 0, cycle).Format(crm.DateLayout)
		}
		if c.GetString("last_visit_at") != last || c.GetString("next_visit_due") != want {
			t.Fatalf("%s: last %q next %q; want last %q next %q (tier %s, cycle %d)", step, c.GetString("last_visit_at"), c.GetString("next_visit_due"), last, want, c.GetString("tier"), cycle)
		}
	}
	expect("the fixtures")
	do := func(actor, method, path string, body map[string]any) {
		t.Helper()
		if res := client.Do(actor, method, path, body); res.Status >= 300 {
			t.Fatalf("%s %s %s: %d %s", actor, method, path, res.Status, res.Body)
		}
	}
	do(testapp.RepA, "POST", "/api/collections/visits/records", map[string]any{"id": "cyclevisit00001", "customer": testapp.CustomerA, "checked_in_at": "2026-03-05 09:00:00.000Z"})
	expect("a rep logs a visit over REST")
	do(testapp.RepA, "POST", "/api/collections/visits/records", map[string]any{"id": "cyclevisit00002", "customer": testapp.CustomerA, "planned_at": "2026-03-20 09:00:00.000Z"})
	expect("a planned visit (not checked in) counts for nothing")
	do(testapp.Admin, "PATCH", "/api/collections/visits/records/cyclevisit00001", map[string]any{"checked_in_at": "2026-03-07 10:00:00.000Z"})
	expect("the dashboard moves the check-in")
	do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, map[string]any{"visit_every_days": 5})
	expect("the customer's own cycle")
	do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, map[string]any{"visit_every_days": 0, "tier": "B"})
	expect("back to the tier's cycle, another tier")
	do(testapp.Admin, "PATCH", "/api/collections/company_settings/records/"+crm.CompanySettingsID, map[string]any{"cycle_b_days": 21})
	expect("the settings change")
	do(testapp.RepA, "DELETE", "/api/collections/visits/records/cyclevisit00001", nil)
	expect("a rep deletes the latest visit")

	// a sync push: a visit checked in later than any, then its deletion
	var pulled struct{ Timestamp int64 }
	res := client.Do(testapp.RepA, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil)
	res.JSON(t, &pulled)
	push := func(changes map[string]any) {
		t.Helper()
		r := client.Do(testapp.RepA, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", pulled.Timestamp), changes)
		if r.Status != 200 {
			t.Fatalf("push: %d %s", r.Status, r.Body)
		}
	}
	checkedIn := float64(time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC).UnixMilli())
	push(map[string]any{"visits": map[string]any{"updated": []any{}, "deleted": []any{}, "created": []any{map[string]any{
		"id": "cyclepushvisit1", "customer": testapp.CustomerA, "checked_in_at": checkedIn, "_status": "created", "_changed": ""}}}})
	expect("a visit pushed from a phone")
	p := client.Do(testapp.RepA, "GET", fmt.Sprintf("/api/sync/pull?last_pulled_at=%d&schema_version=%d", pulled.Timestamp, rsync.SchemaVersion), nil)
	var pr struct {
		Changes map[string]struct{ Updated []map[string]any }
	}
	p.JSON(t, &pr)
	found := false
	for _, c := range pr.Changes[crm.Customers].Updated {
		found = found || (c["id"] == testapp.CustomerA && c["last_visit_at"] == checkedIn)
	}
	if !found {
		t.Fatalf("the phone's next pull lacks the customer's new last visit: %v", pr.Changes[crm.Customers].Updated)
	}
	push(map[string]any{"visits": map[string]any{"updated": []any{}, "created": []any{}, "deleted": []any{"cyclepushvisit1"}}})
	expect("a visit deleted from a phone")
}

// TestVisitsDueView: the dashboard's visits_due lists the customers due
// within a day or overdue, with how many days overdue, each read by its
// owner and the owner's manager only.
func TestVisitsDueView(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	now := time.Now().UTC()
	for id, due := range map[string]time.Time{
		testapp.CustomerA: now.AddDate(0, 0, -3).Add(-time.Hour), // 3 days overdue
		testapp.CustomerB: now.Add(2 * time.Hour),                // due today
		testapp.CustomerX: now.AddDate(0, 0, 5),                  // not due
	} {
		if _, err := app.DB().NewQuery("UPDATE customers SET next_visit_due = {:d} WHERE id = {:id}").
			Bind(dbx.Params{"d": due.Format(crm.DateLayout), "id": id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	list := func(actor string) map[string]float64 {
		t.Helper()
		res := client.Do(actor, "GET", "/api/collections/visits_due/records?perPage=100", nil)
		if actor == testapp.Anon {
			var p struct{ TotalItems int }
			res.JSON(t, &p)
			if p.TotalItems != 0 {
				t.Fatalf("anonymous lists %d customers due", p.TotalItems)
			}
			return nil
		}
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", actor, res.Status, res.Body)
		}
		var p struct {
			Items []struct {
				Customer    string  `json:"customer"`
				Owner       string  `json:"owner"`
				DaysOverdue float64 `json:"days_overdue"`
			}
		}
		res.JSON(t, &p)
		out := map[string]float64{}
		for _, it := range p.Items {
			out[it.Customer] = it.DaysOverdue
		}
		return out
	}
	for actor, want := range map[string]map[string]float64{
		testapp.Admin:    {testapp.CustomerA: 3, testapp.CustomerB: 0},
		testapp.ManagerA: {testapp.CustomerA: 3, testapp.CustomerB: 0},
		testapp.RepA:     {testapp.CustomerA: 3},
		testapp.RepB:     {testapp.CustomerB: 0},
		testapp.RepX:     {},
		testapp.ManagerX: {},
	} {
		if got := list(actor); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s sees %v, want %v", actor, got, want)
		}
	}
	list(testapp.Anon)
}

// TestTiersJobOnDemand: superusers run the tiers job with POST
// /api/crons/tiers; reps cannot.
func TestTiersJobOnDemand(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	if res := client.Do(testapp.RepA, "POST", "/api/crons/tiers", nil); res.Status < 400 {
		t.Fatalf("a rep ran the tiers job: %d", res.Status)
	}
	if res := client.Do(testapp.Admin, "POST", "/api/crons/tiers", nil); res.Status != 204 {
		t.Fatalf("admin: %d %s", res.Status, res.Body)
	}
	// PocketBase runs the job in the background
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, _ := app.FindRecordById(crm.Customers, testapp.CustomerA); c.GetString("tier") == "C" { // no revenue: A -> C
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the tiers job did not run")
}

// TestCustomerTimeline: one row per event of a customer, newest first,
// checked against rows written by hand, and read only by whoever reads the
// customer.
func TestCustomerTimeline(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	at := func(d time.Time) string { return d.UTC().Format(crm.DateLayout) }
	day := func(n int) time.Time { return time.Date(2026, 3, n, 9, 0, 0, 0, time.UTC) }
	exec := func(q string, p dbx.Params) {
		t.Helper()
		if _, err := app.DB().NewQuery(q).Bind(p).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	exec("DELETE FROM sync_conflicts", nil) // the fixtures' conflict is dated by the clock
	// the fixtures' records of customer A, dated by hand
	exec("UPDATE visits SET checked_in_at = {:d}, purpose = 'restock', outcome = 'ordered', notes = 'first visit' WHERE id = {:id}", dbx.Params{"d": at(day(2)), "id": testapp.VisitA})
	exec("UPDATE follow_ups SET created = {:d} WHERE id = {:id}", dbx.Params{"d": at(day(3)), "id": testapp.FollowUpA})
	exec("UPDATE orders SET created = {:d}, notes = 'spring' WHERE id = {:id}", dbx.Params{"d": at(day(4)), "id": testapp.OrderA})
	exec("UPDATE orders SET submitted_at = {:d} WHERE id = {:id}", dbx.Params{"d": at(day(5)), "id": testapp.OrderASubmitted})
	exec("UPDATE notifications SET sent_at = {:d} WHERE id = {:id}", dbx.Params{"d": at(day(6)), "id": testapp.Notification})
	c, _ := app.FindCollectionByNameOrId(crm.Opportunities)
	o := core.NewRecord(c)
	o.Id = "timelinedeal001"
	o.Load(map[string]any{"customer": testapp.CustomerA, "title": "Coffee corner", "amount": 1200, "currency": "EUR", "stage": crm.DefaultStages[2].ID, "changed_by": testapp.UserRepA})
	if err := app.Save(o); err != nil {
		t.Fatal(err)
	}
	exec("UPDATE opportunity_history SET entered_at = {:d} WHERE opportunity = 'timelinedeal001'", dbx.Params{"d": at(day(7))})
	exec(`INSERT INTO customer_events (id, customer, at, kind, summary, user, created, updated) VALUES ('timelineevent01', {:c}, {:d}, 'tier_change', 'tier C → A', '', {:d}, {:d})`,
		dbx.Params{"c": testapp.CustomerA, "d": at(day(8))})
	exec(`INSERT INTO sync_conflicts (id, collection, record_id, field, server_value, client_value, resolution, rule, user, device, count, last_seen_at, created, updated)
		VALUES ('timelineconfl01', 'customers', {:c}, 'notes', '"a"', '"b"', 'merged', 'notes keep both texts', {:u}, 'phone', 1, {:d}, {:d}, {:d})`,
		dbx.Params{"c": testapp.CustomerA, "u": testapp.UserRepA, "d": at(day(9))})

	type row struct {
		At      string `json:"at"`
		Kind    string `json:"kind"`
		Summary string `json:"summary"`
		User    string `json:"user"`
	}
	list := func(actor string) []row {
		t.Helper()
		res := client.Do(actor, "GET", "/api/collections/customer_timeline/records?perPage=100&sort=-at&filter="+"customer%3D%27"+testapp.CustomerA+"%27", nil)
		var p struct{ Items []row }
		res.JSON(t, &p)
		return p.Items
	}
	want := []row{
		{at(day(9)), "conflict", "customers notes: merged (notes keep both texts)", testapp.UserRepA},
		{at(day(8)), "tier_change", "tier C → A", ""},
		{at(day(7)), "opportunity", "Coffee corner: Proposal, 1200.00 EUR", testapp.UserRepA},
		{at(day(6)), "care_message", "birthday greeting to Contact of userrepa0000001 (sent)", ""},
		{at(day(5)), "order", "order submitted, 10.00 EUR", testapp.UserRepA},
		{at(day(4)), "order", "order draft, 25.00 EUR — spring", testapp.UserRepA},
		{at(day(3)), "follow_up", "promised: send prices (due 2026-03-04, open)", testapp.UserRepA},
		{at(day(2)), "visit", "visited: restock — ordered — first visit", testapp.UserRepA},
	}
	got := list(testapp.RepA)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rep A's timeline of customer A:\n%v\nwant\n%v", got, want)
	}
	if m := list(testapp.ManagerA); len(m) != len(want) {
		t.Fatalf("manager A sees %d rows", len(m))
	}
	for _, actor := range []string{testapp.RepB, testapp.ManagerX, testapp.Anon} {
		if n := len(list(actor)); n != 0 {
			t.Errorf("%s sees %d rows of customer A's timeline", actor, n)
		}
	}
}

// TestRepActivity: a rep's week, written by hand, as rep_activity shows it
// (every rep has a row for each of the last 53 weeks, zeros included);
// read by the rep and their manager only.
func TestRepActivity(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	exec := func(q string, p dbx.Params) {
		t.Helper()
		if _, err := app.DB().NewQuery(q).Bind(p).Execute(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// a week well inside the view's 53: the Monday four weeks before this one
	now := time.Now().UTC()
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -((int(now.Weekday())+6)%7)-28)
	ts := func(day, h, m int) string {
		return monday.AddDate(0, 0, day-1).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).Format(crm.DateLayout)
	}
	visit := func(id, planned, in, out, geo string) {
		exec(`INSERT INTO visits (id, customer, rep, planned_at, checked_in_at, checked_out_at, geo_status) VALUES ({:id}, {:c}, {:r}, {:p}, {:i}, {:o}, {:g})`,
			dbx.Params{"id": id, "c": testapp.CustomerA, "r": testapp.UserRepA, "p": planned, "i": in, "o": out, "g": geo})
	}
	order := func(id, visit, status, submitted string, total float64) {
		exec(`INSERT INTO orders (id, customer, rep, visit, status, currency, total, submitted_at) VALUES ({:id}, {:c}, {:r}, {:v}, {:s}, 'EUR', {:t}, {:at})`,
			dbx.Params{"id": id, "c": testapp.CustomerA, "r": testapp.UserRepA, "v": visit, "s": status, "t": total, "at": submitted})
	}
	followUp := func(id, status, due, updated string) {
		exec(`INSERT INTO follow_ups (id, customer, assignee, status, due_at, note, updated) VALUES ({:id}, {:c}, {:r}, {:s}, {:d}, 'x', {:u})`,
			dbx.Params{"id": id, "c": testapp.CustomerA, "r": testapp.UserRepA, "s": status, "d": due, "u": updated})
	}
	// that week (day 1 is the Monday; day 8 the next Monday)
	visit("actvisit0000001", ts(1, 10, 0), ts(1, 10, 5), ts(1, 10, 50), "verified") // 45 minutes, with an order
	visit("actvisit0000002", ts(2, 10, 0), "", "", "")                              // planned, not made
	visit("actvisit0000003", "", ts(3, 9, 0), ts(3, 9, 20), "far")                  // 20 minutes, not verified
	visit("actvisit0000004", "", ts(7, 23, 0), "", "unknown")                       // Sunday night: the same week
	visit("actvisit0000005", ts(8, 9, 0), ts(8, 9, 5), "", "verified")              // the next week
	order("actorder0000001", "actvisit0000001", "confirmed", ts(1, 11, 0), 100)
	order("actorder0000002", "", "fulfilled", ts(4, 12, 0), 50.50)
	order("actorder0000003", "", "cancelled", ts(5, 12, 0), 999)
	order("actorder0000004", "", "submitted", ts(5, 13, 0), 30)
	followUp("actfollowup0001", "done", ts(2, 9, 0), ts(3, 15, 0))
	followUp("actfollowup0002", "open", ts(4, 9, 0), ts(1, 9, 0)) // overdue by now
	followUp("actfollowup0003", "open", "2099-01-01 09:00:00.000Z", ts(1, 9, 0))
	exec("UPDATE customers SET tier = 'A', next_visit_due = {:d} WHERE id = {:c}", dbx.Params{"d": ts(5, 9, 0), "c": testapp.CustomerA})

	type week struct {
		Rep              string  `json:"rep"`
		Week             string  `json:"week"`
		VisitsPlanned    int     `json:"visits_planned"`
		VisitsDone       int     `json:"visits_done"`
		VerifiedPct      int     `json:"verified_pct"`
		MinutesOnSite    int     `json:"minutes_on_site"`
		ProductiveVisits int     `json:"productive_visits"`
		Orders           int     `json:"orders"`
		Revenue          float64 `json:"revenue"`
		FollowUpsDone    int     `json:"follow_ups_done"`
		FollowUpsOverdue int     `json:"follow_ups_overdue"`
		ADue             int     `json:"a_customers_due"`
		AVisited         int     `json:"a_customers_visited"`
	}
	get := func(actor string) []week {
		t.Helper()
		res := client.Do(actor, "GET", "/api/collections/rep_activity/records?perPage=100&filter="+
			"week%3D%27"+monday.Format("2006-01-02")+"%27%26%26rep%3D%27"+testapp.UserRepA+"%27", nil)
		var p struct{ Items []week }
		res.JSON(t, &p)
		return p.Items
	}
	got := get(testapp.RepA)
	want := week{Rep: testapp.UserRepA, Week: monday.Format("2006-01-02"), VisitsPlanned: 2, VisitsDone: 3, VerifiedPct: 33, MinutesOnSite: 65,
		ProductiveVisits: 1, Orders: 3, Revenue: 150.50, FollowUpsDone: 1, FollowUpsOverdue: 1, ADue: 1, AVisited: 1}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("rep A's week:\n%+v\nwant\n%+v", got, want)
	}
	if m := get(testapp.ManagerA); len(m) != 1 {
		t.Fatalf("manager A sees %d weeks", len(m))
	}
	for _, actor := range []string{testapp.RepB, testapp.ManagerX, testapp.Anon} {
		if n := len(get(actor)); n != 0 {
			t.Errorf("%s sees %d of rep A's weeks", actor, n)
		}
	}
}

// TestTimelineKeepsWhoPromised: a follow-up names, in the customer's
// timeline, the rep who promised it before and after the customer is handed
// to another rep (the follow-up moves to the new owner, the promise stays
// the first rep's, and the timeline says who holds it now) — for a promise
// made over REST and one pushed by the old rep's phone inside the grace.
// A device or a rep cannot set promised_by.
func TestTimelineKeepsWhoPromised(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	type row struct {
		ID, Summary, User, Holder string
	}
	promises := func() map[string]row {
		t.Helper()
		res := client.Do(testapp.Admin, "GET", "/api/collections/customer_timeline/records?perPage=200&filter="+url.QueryEscape("customer='"+testapp.CustomerA+"' && kind='follow_up'"), nil)
		var p struct{ Items []row }
		res.JSON(t, &p)
		out := map[string]row{}
		for _, r := range p.Items {
			out[r.ID] = r
		}
		return out
	}
	if res := client.Do(testapp.RepA, "POST", "/api/collections/follow_ups/records", M{"customer": testapp.CustomerA, "note": "Check the display stand", "due_at": "2026-12-05 09:00:00.000Z", "promised_by": testapp.UserRepB}); res.Status != 403 {
		t.Fatalf("a rep naming promised_by: %d %s", res.Status, res.Body)
	}
	res := client.Do(testapp.RepA, "POST", "/api/collections/follow_ups/records", M{"customer": testapp.CustomerA, "note": "Check the display stand", "due_at": "2026-12-05 09:00:00.000Z"})
	if res.Status != 200 {
		t.Fatalf("promise: %d %s", res.Status, res.Body)
	}
	var made struct{ ID string }
	res.JSON(t, &made)
	before := promises()["f"+made.ID]
	if before.User != testapp.UserRepA {
		t.Fatalf("before the hand-over the promise reads as %q's", before.User)
	}
	c, _ := app.FindRecordById(crm.Customers, testapp.CustomerA)
	c.Set("owner", testapp.UserRepB)
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
	// rep A's phone pushes a promise made offline before it knew
	push := client.Do(testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1", M{"follow_ups": M{"created": []M{{"id": "offlinepromise01", "customer": testapp.CustomerA, "note": "Bring samples",
		"due_at": float64(testapp.Now.Add(48 * time.Hour).UnixMilli()), "status": "open"}}}})
	if push.Status != 200 || strings.Contains(push.Body, "rejected\":[{") {
		t.Fatalf("the offline promise: %d %s", push.Status, push.Body)
	}
	after := promises()
	for _, id := range []string{"f" + made.ID, "foffline" + "promise01"} {
		r := after[id]
		if r.User != testapp.UserRepA || r.Holder != testapp.UserRepB || !strings.Contains(r.Summary, "now held by") {
			t.Fatalf("after the hand-over, promise %s reads %+v; want rep A's, held by rep B", id, r)
		}
		f, _ := app.FindRecordById(crm.FollowUps, strings.TrimPrefix(id, "f"))
		if f.GetString("assignee") != testapp.UserRepB || f.GetString("promised_by") != testapp.UserRepA {
			t.Fatalf("follow-up %s: assignee %q, promised_by %q", id, f.GetString("assignee"), f.GetString("promised_by"))
		}
	}
}

// TestActivityComparesWithWhatWasPlannedSoFar: rep_activity's
// visits_planned_to_date counts the week's visits planned up to now, so a
// visit planned for later in the week is planned, not missed.
func TestActivityComparesWithWhatWasPlannedSoFar(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	now := time.Now().UTC()
	weekStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -((int(now.Weekday()) + 6) % 7))
	weekEnd := weekStart.AddDate(0, 0, 7)
	past, later := weekStart.Add(now.Sub(weekStart)/2), now.Add(weekEnd.Sub(now)/2)
	if _, err := app.DB().NewQuery("DELETE FROM visits").Execute(); err != nil {
		t.Fatal(err)
	}
	c, _ := app.FindCollectionByNameOrId(crm.Visits)
	for i, at := range []time.Time{past, later, later} {
		v := core.NewRecord(c)
		v.Load(map[string]any{"customer": testapp.CustomerA, "rep": testapp.UserRepA, "planned_at": at, "purpose": fmt.Sprint("planned ", i)})
		if err := app.Save(v); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Planned int `db:"visits_planned"`
		ToDate  int `db:"visits_planned_to_date"`
	}
	if err := app.DB().NewQuery("SELECT visits_planned, visits_planned_to_date FROM rep_activity WHERE rep = {:r} AND week = {:w}").
		Bind(dbx.Params{"r": testapp.UserRepA, "w": weekStart.Format(time.DateOnly)}).One(&got); err != nil {
		t.Fatal(err)
	}
	if got.Planned != 3 || got.ToDate != 1 {
		t.Fatalf("this week: %d planned, %d of them so far; want 3 and 1", got.Planned, got.ToDate)
	}
}

// TestSettingsAreCheckedAndTiersFollow: cut-offs out of order (equal or
// reversed, drawn at random) are refused with a 400 naming both fields and
// change nothing; cut-offs in order, and a new revenue window, recompute
// the tiers in the same request, so that the nightly job run right after on
// the same data changes nothing, and each change is on the timeline once.
func TestSettingsAreCheckedAndTiersFollow(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	rng := rand.New(rand.NewPCG(27, 1))
	customers, _ := app.FindCollectionByNameOrId(crm.Customers)
	for i := range 60 {
		r := core.NewRecord(customers)
		r.Id = fmt.Sprintf("settingscust%03d", i)
		r.Load(map[string]any{"name": r.Id, "owner": []string{testapp.UserRepA, testapp.UserRepB}[i%2]})
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		for j := range 1 + rng.IntN(4) {
			at := testapp.Now.AddDate(0, -rng.IntN(30), -rng.IntN(28)).Format(crm.DateLayout) // up to two and a half years back
			total := float64(rng.IntN(5)*rng.IntN(20000)+rng.IntN(300)) + 0.5
			if _, err := app.DB().NewQuery(`INSERT INTO orders (id, customer, rep, status, currency, total, notes, submitted_at, visit, opportunity, created, updated)
				VALUES ({:id}, {:c}, {:r}, {:s}, 'EUR', {:t}, '', {:at}, '', '', {:at}, {:at})`).
				Bind(dbx.Params{"id": fmt.Sprintf("settingsord%02d%02d", i, j), "c": r.Id, "r": r.GetString("owner"),
					"s": []string{"confirmed", "fulfilled"}[rng.IntN(2)], "t": total, "at": at}).Execute(); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := t.Context()
	if _, err := tiers.Run(ctx, app, testapp.Now); err != nil { // as the nightly job left them
		t.Fatal(err)
	}
	tiersNow := func() map[string]string {
		var rows []struct{ ID, Tier string }
		if err := app.DB().NewQuery("SELECT id, tier FROM customers").All(&rows); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rows {
			out[r.ID] = r.Tier
		}
		return out
	}
	events := func() int {
		var n int
		_ = app.DB().NewQuery("SELECT COUNT(*) FROM customer_events WHERE kind = 'tier_change'").Row(&n)
		return n
	}
	settings := func() crm.Coverage {
		r, err := app.FindRecordById(crm.CompanySettings, crm.CompanySettingsID)
		if err != nil {
			t.Fatal(err)
		}
		return crm.CoverageOf(r)
	}
	moved := 0
	for round := range 24 {
		before, beforeSettings, beforeEvents := tiersNow(), settings(), events()
		a := float64(1 + rng.IntN(99))
		b := map[int]float64{0: a, 1: float64(1 + rng.IntN(int(a)))}[rng.IntN(2)] // equal or reversed
		if rng.IntN(3) > 0 {
			b = a + float64(1+rng.IntN(int(100-a)+1)) - 1 // in order (a < b ≤ 100) when a < 100
			if a == 100 || b <= a {
				a, b = 50, 90
			}
		}
		body := map[string]any{"tier_a_share": a, "tier_b_share": b}
		if rng.IntN(3) == 0 {
			body["revenue_months"] = 1 + rng.IntN(36)
		}
		res := client.Do(testapp.Admin, "PATCH", "/api/collections/company_settings/records/"+crm.CompanySettingsID, body)
		if a >= b {
			if res.Status != 400 || !strings.Contains(res.Body, `"tier_a_share"`) || !strings.Contains(res.Body, `"tier_b_share"`) ||
				!strings.Contains(res.Body, "must be below tier_b_share") {
				t.Fatalf("round %d: A %v, B %v: %d %s", round, a, b, res.Status, res.Body)
			}
			if settings() != beforeSettings || fmt.Sprint(tiersNow()) != fmt.Sprint(before) || events() != beforeEvents {
				t.Fatalf("round %d: a refused change of settings changed something", round)
			}
			continue
		}
		if res.Status != 200 {
			t.Fatalf("round %d: A %v, B %v: %d %s", round, a, b, res.Status, res.Body)
		}
		after := tiersNow()
		changed := 0
		for id, tier := range after {
			if before[id] != tier {
				changed++
			}
		}
		moved += changed
		if got := events() - beforeEvents; got != changed {
			t.Fatalf("round %d: %d customers changed tier, %d tier changes on the timeline", round, changed, got)
		}
		st, err := tiers.Run(ctx, app, testapp.Now)
		if err != nil {
			t.Fatal(err)
		}
		if st.Changed != 0 {
			t.Fatalf("round %d: A %v, B %v, body %v: the nightly job changed %d more tiers right after the change of settings", round, a, b, body, st.Changed)
		}
	}
	if moved == 0 {
		t.Fatal("no change of settings moved any customer's tier: the test proves nothing")
	}
}

// TestTimelineHasItsParts: each timeline event carries its parts as typed
// values — texts stay texts whatever they look like ("null", "42", "[1]",
// "true", empty), amounts are numbers with their currency, a promise has
// its due date and holder — and a visit with no purpose reads "visited",
// not "visited:". Texts are drawn from a seed, the odd ones included.
func TestTimelineHasItsParts(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	rng := rand.New(rand.NewPCG(24, 7))
	odd := []string{"null", "42", "[1]", "true", "", "{\"a\":1}", "Check the display stand", "  spaced  ", "-0", "1e3", "ÄÖÜ 春节"}
	type made struct{ kind, text string }
	want := map[string]made{}
	for i := range 12 {
		text := odd[rng.IntN(len(odd))]
		if rng.IntN(2) == 0 {
			res := client.Do(testapp.RepA, "POST", "/api/collections/visits/records", M{"customer": testapp.CustomerA, "purpose": text, "checked_in_at": testapp.Now.Add(-time.Duration(i) * time.Hour).Format(crm.DateLayout)})
			var v struct{ ID, Purpose string }
			res.JSON(t, &v)
			if res.Status != 200 {
				t.Fatalf("visit %q: %d %s", text, res.Status, res.Body)
			}
			want["v"+v.ID] = made{"visit", v.Purpose}
		} else if text != "" {
			res := client.Do(testapp.RepA, "POST", "/api/collections/follow_ups/records", M{"customer": testapp.CustomerA, "note": text, "due_at": "2026-12-05 09:00:00.000Z"})
			var f struct{ ID, Note string }
			res.JSON(t, &f)
			if res.Status != 200 {
				t.Fatalf("follow-up %q: %d %s", text, res.Status, res.Body)
			}
			want["f"+f.ID] = made{"follow_up", f.Note}
		}
	}
	res := client.Do(testapp.ManagerA, "GET", "/api/collections/customer_timeline/records?perPage=500&filter="+url.QueryEscape("customer='"+testapp.CustomerA+"'"), nil)
	var page struct{ Items []map[string]any }
	res.JSON(t, &page)
	seen := 0
	for _, it := range page.Items {
		id := fmt.Sprint(it["id"])
		for _, k := range []string{"title", "detail", "status", "currency", "due", "summary", "at", "kind"} {
			if _, ok := it[k].(string); !ok {
				t.Fatalf("%s: %s is %T %v, not a text", id, k, it[k], it[k])
			}
		}
		if _, ok := it["amount"].(float64); !ok {
			t.Fatalf("%s: amount is %T", id, it["amount"])
		}
		if it["kind"] == "order" && (it["currency"] == "" || it["status"] == "") {
			t.Fatalf("%s: an order without its currency or status: %v", id, it)
		}
		w, ok := want[id]
		if !ok {
			continue
		}
		seen++
		if it["title"] != w.text || it["kind"] != w.kind {
			t.Fatalf("%s: title %q (kind %v), want %q", id, it["title"], it["kind"], w.text)
		}
		if w.kind == "follow_up" && (it["due"] != "2026-12-05 09:00:00.000Z" || it["holder"] != testapp.UserRepA || it["user"] != testapp.UserRepA) {
			t.Fatalf("%s: promise parts %v", id, it)
		}
		if w.kind == "visit" && (strings.HasSuffix(fmt.Sprint(it["summary"]), ":") || it["status"] != "done") {
			t.Fatalf("%s: visit summary %q, status %v", id, it["summary"], it["status"])
		}
	}
	if seen != len(want) {
		t.Fatalf("the timeline shows %d of the %d events made", seen, len(want))
	}
}

// TestActivityNamesLastSync: rep_activity carries each rep's latest sync of
// any phone, for their manager; sync_devices itself stays admins only.
func TestActivityNamesLastSync(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	for i, at := range []string{"2026-03-01 08:00:00.000Z", "2026-03-02 17:30:00.000Z"} {
		if _, err := app.DB().NewQuery(`INSERT INTO sync_devices (id, user, device_id, user_agent, last_pull_at, last_push_at, last_sync_at, refused, stuck_since, created, updated)
			VALUES ({:id}, {:u}, {:d}, '', '', '', {:at}, 0, '', '', '')`).Bind(dbx.Params{"id": fmt.Sprintf("lastsyncdev%04d", i), "u": testapp.UserRepA, "d": fmt.Sprint("phone", i), "at": at}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	res := client.Do(testapp.ManagerA, "GET", "/api/collections/rep_activity/records?perPage=500", nil)
	var page struct {
		Items []struct {
			Rep        string
			LastSyncAt string `json:"last_sync_at"`
		}
	}
	res.JSON(t, &page)
	reps := 0
	for _, it := range page.Items {
		want := map[string]string{testapp.UserRepA: "2026-03-02 17:30:00.000Z"}[it.Rep]
		if it.LastSyncAt != want {
			t.Fatalf("rep %s: last_sync_at %q, want %q", it.Rep, it.LastSyncAt, want)
		}
		if it.Rep == testapp.UserRepA {
			reps++
		}
	}
	if reps == 0 {
		t.Fatal("the manager sees no row of rep A")
	}
	if res := client.Do(testapp.ManagerA, "GET", "/api/collections/sync_devices/records", nil); res.Status != 403 && strings.Contains(res.Body, "lastsyncdev") {
		t.Fatalf("a manager reads sync_devices: %d %s", res.Status, res.Body)
	}
}
