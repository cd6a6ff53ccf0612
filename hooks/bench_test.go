package hooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
	"rounds/seed"
)

// BenchmarkRESTLists lists, over REST, the first three pages of 500 of a
// rep's and of their manager's customers, contacts, visits and order lines
// in a small company (about 55,000 records) and in one of about a million,
// where the rep's territory is the same size (280 customers), under the
// rules that walk relations (customer.owner, order.customer.owner: the
// policy's rules before the scope columns) and under the rules that compare
// the scope columns, in one run.
func BenchmarkRESTLists(b *testing.B) {
	for _, size := range []struct {
		name                      string
		managers, reps, customers int
	}{{"small", 1, 5, 1400}, {"million", 5, 100, 28000}} {
		opts := seed.DefaultOptions()
		opts.Managers, opts.Reps, opts.Customers = size.managers, size.reps, size.customers
		opts.Today = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		app, client, _, tokens := seededCompany(b, opts)
		var records int
		_ = app.DB().NewQuery("SELECT (SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM contacts) + (SELECT COUNT(*) FROM visits) + " +
			"(SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM order_lines) + (SELECT COUNT(*) FROM follow_ups)").Row(&records)
		b.Logf("%s company: %d records", size.name, records)
		setRules := func(columns bool) {
			for _, s := range policy.ScopeSpecs() {
				col, err := app.FindCollectionByNameOrId(s.Name)
				if err != nil {
					b.Fatal(err)
				}
				rule := s.Rule(policy.List)
				if !columns {
					rule = s.WithoutScopeColumns().Rule(policy.List)
				}
				col.ListRule, col.ViewRule = rule, rule
				if err := app.Save(col); err != nil {
					b.Fatal(err)
				}
			}
		}
		// two rounds, alternating: the first query of each kind pays for
		// warming the caches, so read the second round
		for _, rules := range []string{"paths", "columns", "paths", "columns"} {
			setRules(rules == "columns")
			for _, who := range []string{"rep", "manager"} {
				for _, c := range []string{crm.Customers, crm.Contacts, crm.Visits, crm.OrderLines} {
					b.Run(fmt.Sprintf("%s/rules=%s/%s/%s", size.name, rules, who, c), func(b *testing.B) {
						var records int
						for b.Loop() {
							records = 0
							for page := 1; page <= 3; page++ {
								url := fmt.Sprintf("/api/collections/%s/records?perPage=500&page=%d", c, page)
								res := client.For(b).DoWithHeaders(testapp.Anon, http.MethodGet, url, nil, map[string]string{"Authorization": tokens[who]})
								if res.Status != 200 {
									b.Fatalf("%s: %d %s", url, res.Status, res.Body)
								}
								var p struct{ Items []json.RawMessage }
								if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
									b.Fatal(err)
								}
								records += len(p.Items)
								if len(p.Items) < 500 {
									break
								}
							}
						}
						b.ReportMetric(float64(records), "records")
					})
				}
			}
		}
	}
}

// BenchmarkForecast asks GET /api/reports/forecast for a quarter over HTTP
// (the router, the auth, the queries, the JSON), as a rep, their manager
// (a team of twenty reps) and a superuser, in a database of about a million
// records with some 28,000 deals. Goal: under 50 ms for the manager.
func BenchmarkForecast(b *testing.B) {
	app, client, _, tokens := millionRecords(b)
	var deals int
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM opportunities").Row(&deals)
	// each twice: the first of a kind pays for warming the caches
	for _, who := range []string{"rep", "manager", "superuser", "rep", "manager", "superuser"} {
		b.Run(who, func(b *testing.B) {
			for b.Loop() {
				res := client.For(b).DoWithHeaders(testapp.Anon, http.MethodGet, "/api/reports/forecast?from=2026-03-01&to=2026-05-31", nil,
					map[string]string{"Authorization": tokens[who]})
				if res.Status != 200 {
					b.Fatalf("%s: %d %s", who, res.Status, res.Body)
				}
			}
			b.ReportMetric(float64(deals), "deals")
		})
	}
}

// BenchmarkCoverageViews lists one customer's timeline (as its rep), a
// rep's customers due and weeks of activity (as the rep and as their
// manager) over HTTP in a database of about a million records. Goal: the
// timeline and one rep's weeks under 100 ms.
func BenchmarkCoverageViews(b *testing.B) {
	app, client, rep, tokens := millionRecords(b)
	var customer string
	_ = app.DB().NewQuery("SELECT id FROM customers WHERE owner = {:r} ORDER BY id LIMIT 1").Bind(map[string]any{"r": rep.Id}).Row(&customer)
	for _, c := range []struct{ name, who, url string }{
		{"timeline", "rep", "/api/collections/customer_timeline/records?perPage=100&sort=-at&filter=" + "customer%3D%27" + customer + "%27"},
		{"visits_due", "rep", "/api/collections/visits_due/records?perPage=500&sort=-days_overdue"},
		{"visits_due", "manager", "/api/collections/visits_due/records?perPage=500&sort=-days_overdue"},
		{"rep_activity", "rep", "/api/collections/rep_activity/records?perPage=100&sort=-week&filter=" + "rep%3D%27" + rep.Id + "%27"},
		{"rep_activity", "manager", "/api/collections/rep_activity/records?perPage=100&sort=-week&filter=" + "rep%3D%27" + rep.Id + "%27"},
		{"rep_activity_team", "manager", "/api/collections/rep_activity/records?perPage=100&sort=-week"},
	} {
		for round := range 2 { // the first pays for warming the caches
			b.Run(fmt.Sprintf("%s/%s/%d", c.name, c.who, round), func(b *testing.B) {
				var n int
				for b.Loop() {
					res := client.For(b).DoWithHeaders(testapp.Anon, http.MethodGet, c.url, nil, map[string]string{"Authorization": tokens[c.who]})
					if res.Status != 200 {
						b.Fatalf("%d %s", res.Status, res.Body)
					}
					var p struct{ TotalItems int }
					_ = json.Unmarshal([]byte(res.Body), &p)
					n = p.TotalItems
				}
				b.ReportMetric(float64(n), "rows")
			})
		}
	}
}

// millionRecords seeds the benchmarks' database of about a million records
// (5 managers, 100 reps, 28,000 customers) and returns it with a client,
// rep 1, and tokens of rep 1 ("rep"), their manager ("manager") and a
// superuser ("superuser").
func millionRecords(b *testing.B) (*tests.TestApp, *testapp.Client, *core.Record, map[string]string) {
	b.Helper()
	opts := seed.DefaultOptions()
	opts.Managers, opts.Reps, opts.Customers = 5, 100, 28000
	opts.Today = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	return seededCompany(b, opts)
}

// seededCompany seeds a company and signs in rep 1, their manager and a
// superuser.
func seededCompany(b *testing.B, opts seed.Options) (*tests.TestApp, *testapp.Client, *core.Record, map[string]string) {
	b.Helper()
	app := testapp.Seeded(b, opts)
	rep, err := app.FindAuthRecordByEmail(crm.Users, seed.RepEmail(1))
	if err != nil {
		b.Fatal(err)
	}
	manager, err := app.FindRecordById(crm.Users, rep.GetString("manager"))
	if err != nil {
		b.Fatal(err)
	}
	supers, _ := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	admin := core.NewRecord(supers)
	admin.SetEmail("bench-admin@rounds.test")
	admin.SetPassword("bench-admin-password")
	if err := app.Save(admin); err != nil {
		b.Fatal(err)
	}
	tokens := map[string]string{}
	for name, u := range map[string]*core.Record{"rep": rep, "manager": manager, "superuser": admin} {
		if tokens[name], err = u.NewAuthToken(); err != nil {
			b.Fatal(err)
		}
	}
	return app, testapp.NewClient(b, app), rep, tokens
}
