package tiers_test

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/tiers"
)

// TestTiersJob runs the job on a database with known revenue: the
// fixtures' customers and three more, orders confirmed or fulfilled in
// the last twelve months in euros, one in dollars (left out) and one older
// than a year (left out).
func TestTiersJob(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	customers, _ := app.FindCollectionByNameOrId(crm.Customers)
	for _, id := range []string{"tiercustomer001", "tiercustomer002", "tiercustomer003"} {
		r := core.NewRecord(customers)
		r.Id = id
		r.Load(map[string]any{"name": id, "owner": testapp.UserRepA})
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	// orders written as the back office leaves them (status and date as given)
	order := func(id, customer, currency string, total float64, status string, submitted time.Time) {
		_, err := app.DB().NewQuery(`INSERT INTO orders (id, customer, rep, status, currency, total, notes, submitted_at, visit, opportunity, created, updated)
			VALUES ({:id}, {:c}, {:r}, {:s}, {:cur}, {:t}, '', {:at}, '', '', {:at}, {:at})`).
			Bind(dbx.Params{"id": id, "c": customer, "r": testapp.UserRepA, "s": status, "cur": currency, "t": total, "at": submitted.Format(crm.DateLayout)}).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	month := func(m int) time.Time { return now.AddDate(0, -m, 0) }
	order("tierorder000001", "tiercustomer001", "EUR", 6000, "fulfilled", month(2))
	order("tierorder000002", "tiercustomer001", "EUR", 2000, "confirmed", month(11)) // 8,000
	order("tierorder000003", "tiercustomer002", "EUR", 1500, "fulfilled", month(1))  // 1,500
	order("tierorder000004", "tiercustomer003", "EUR", 400, "fulfilled", month(3))   // 500 with the next
	order("tierorder000005", "tiercustomer003", "EUR", 100, "confirmed", month(4))
	order("tierorder000006", "tiercustomer003", "USD", 90000, "fulfilled", month(1))  // another currency: left out
	order("tierorder000007", testapp.CustomerB, "EUR", 99000, "fulfilled", month(13)) // older than a year: left out
	order("tierorder000008", testapp.CustomerX, "EUR", 50000, "submitted", month(1))  // not confirmed: left out
	// total 10,000: 8,000 reaches 80 % (A), 1,500 reaches 95 % (B), the rest C
	st, err := tiers.Run(context.Background(), app, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		tier    string
		revenue float64
	}{
		"tiercustomer001": {"A", 8000}, "tiercustomer002": {"B", 1500}, "tiercustomer003": {"C", 500},
		testapp.CustomerA: {"C", 0}, testapp.CustomerB: {"C", 0}, testapp.CustomerX: {"C", 0},
	}
	for id, w := range want {
		c, _ := app.FindRecordById(crm.Customers, id)
		if c.GetString("tier") != w.tier || c.GetFloat("revenue_12m") != w.revenue {
			t.Errorf("%s: tier %s revenue %v, want %s %v", id, c.GetString("tier"), c.GetFloat("revenue_12m"), w.tier, w.revenue)
		}
	}
	if st.Customers != 6 || st.ByTier["A"] != 1 || st.ByTier["B"] != 1 || st.ByTier["C"] != 4 || st.OtherCurrencyOrders != 1 {
		t.Fatalf("stats: %+v", st)
	}
	// the fixtures' customers went to C, the new ones from C to A and B: each change on the timeline, once
	var events []struct {
		Customer string `db:"customer"`
		Summary  string `db:"summary"`
	}
	_ = app.DB().NewQuery("SELECT customer, summary FROM customer_events WHERE kind = 'tier_change' ORDER BY customer").All(&events)
	got := map[string]string{}
	for _, e := range events {
		got[e.Customer] = e.Summary
	}
	for id, s := range map[string]string{
		"tiercustomer001": "tier C → A (revenue 8000.00 EUR over 12 months)", "tiercustomer002": "tier C → B (revenue 1500.00 EUR over 12 months)",
		testapp.CustomerA: "tier A → C (revenue 0.00 EUR over 12 months)", testapp.CustomerB: "tier A → C (revenue 0.00 EUR over 12 months)",
		testapp.CustomerX: "tier B → C (revenue 0.00 EUR over 12 months)",
	} {
		if got[id] != s {
			t.Errorf("timeline of %s: %q, want %q", id, got[id], s)
		}
	}
	if len(events) != 5 {
		t.Fatalf("%d tier changes: %v", len(events), events)
	}
	c, _ := app.FindRecordById(crm.Customers, "tiercustomer001")
	if !c.GetDateTime("tier_changed_at").Time().Equal(now) {
		t.Fatalf("tier_changed_at %v", c.GetDateTime("tier_changed_at"))
	}
	// an A customer never visited is due since it exists; its cycle is A's now
	if c.GetString("next_visit_due") != c.GetString("created") {
		t.Fatalf("next visit due %s, created %s", c.GetString("next_visit_due"), c.GetString("created"))
	}
	// a second run changes nothing
	if st, err := tiers.Run(context.Background(), app, now.Add(time.Hour)); err != nil || st.Changed != 0 {
		t.Fatalf("second run: %+v %v", st, err)
	}
	var n int
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM customer_events WHERE kind = 'tier_change'").Row(&n)
	if n != 5 {
		t.Fatalf("%d tier changes after a second run", n)
	}
	// thresholds are settings: at 50 % only the largest is A; B up to 99 % takes the rest
	s, _ := app.FindRecordById(crm.CompanySettings, crm.CompanySettingsID)
	s.Set("tier_a_share", 50)
	s.Set("tier_b_share", 99)
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	if _, err := tiers.Run(context.Background(), app, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	c3, _ := app.FindRecordById(crm.Customers, "tiercustomer003")
	if c3.GetString("tier") != "B" {
		t.Fatalf("at 50/99 tiercustomer003 is %s, want B", c3.GetString("tier"))
	}
}
