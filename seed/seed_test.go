package seed_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
	_ "rounds/pb_migrations"
	"rounds/seed"
)

var today = time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)

func small(s uint64) seed.Options {
	o := seed.DefaultOptions()
	o.Seed, o.Today, o.Customers, o.Reps = s, today, 40, 4
	return o
}

// dump renders every seeded table, ordered by id, without the bcrypt hash
// (it is salted at random by design).
func dump(t *testing.T, app core.App) string {
	t.Helper()
	var b strings.Builder
	for _, table := range crm.Collections {
		rows := []dbx.NullStringMap{}
		if err := app.DB().NewQuery(fmt.Sprintf("SELECT * FROM {{%s}} ORDER BY id", table)).All(&rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			delete(r, "password")
			if table == crm.Stages || table == crm.CompanySettings || (table == crm.CareTemplates && strings.HasPrefix(r["id"].String, "caretemplate")) { // made by a migration, stamped with its clock
				delete(r, "created")
				delete(r, "updated")
			}
			fmt.Fprintf(&b, "%s %v\n", table, r)
		}
	}
	return b.String()
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b, c := testapp.Empty(t), testapp.Empty(t), testapp.Empty(t)
	for _, x := range []struct {
		app  core.App
		seed uint64
	}{{a, 7}, {b, 7}, {c, 8}} {
		if _, err := seed.Run(context.Background(), x.app, small(x.seed), io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if dump(t, a) != dump(t, b) {
		t.Fatal("the same seed produced different data")
	}
	if dump(t, a) == dump(t, c) {
		t.Fatal("different seeds produced the same data")
	}
}

// TestSeedSatisfiesInvariants checks the bulk-written data against the
// rules the record hooks enforce, then re-saves records through the hooks
// and requires that nothing changes.
func TestSeedSatisfiesInvariants(t *testing.T) {
	t.Parallel()
	app := testapp.Empty(t)
	stats, err := seed.Run(context.Background(), app, small(3), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range crm.Collections {
		if table == crm.CareInvites {
			continue // invites are made by reps at work, not seeded
		}
		n, err := app.CountRecords(table)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s is empty", table)
		}
		if table != crm.Users && table != crm.Stages && table != crm.CompanySettings && table != crm.VisitsDue && table != crm.CustomerTimeline && table != crm.RepActivity && table != crm.StuckDevices && table != crm.CareStatus && int(n) != stats.Rows[table] { // these come from migrations (or are a view)
			t.Errorf("%s: %d rows in the database, stats say %d", table, n, stats.Rows[table])
		}
	}

	// the change log holds every synced record, and capture is back on
	var logged, synced, triggers int
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM _rounds_changes WHERE op = 'c' AND tbl != '_init'").Row(&logged)
	for _, table := range []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Opportunities, crm.Orders, crm.OrderLines, crm.Products, crm.Stages} {
		n, _ := app.CountRecords(table)
		synced += int(n)
	}
	_ = app.DB().NewQuery(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\_rounds\_%' ESCAPE '\'`).Row(&triggers)
	if logged != synced || triggers != 34 {
		t.Fatalf("change log has %d rows for %d synced records; %d capture triggers, want 34", logged, synced, triggers)
	}

	// totals and prices
	var bad []struct {
		ID string `db:"id"`
	}
	err = app.DB().NewQuery(`
		SELECT o.id FROM orders o
		WHERE ROUND(o.total * 100) != (SELECT COALESCE(SUM(ROUND(l.line_total * 100)), 0) FROM order_lines l WHERE l."order" = o.id)`).All(&bad)
	if err != nil || len(bad) > 0 {
		t.Fatalf("orders whose total is not the sum of their lines: %v %v", bad, err)
	}

	// tiers come from revenue, Pareto-like: a minority of A customers, C the largest class
	var byTier []struct {
		Tier string `db:"tier"`
		N    int    `db:"n"`
	}
	_ = app.DB().NewQuery("SELECT tier, COUNT(*) AS n FROM customers GROUP BY tier ORDER BY tier").All(&byTier)
	counts := map[string]int{}
	for _, b := range byTier {
		counts[b.Tier] = b.N
	}
	if all := counts["A"] + counts["B"] + counts["C"]; counts["A"] == 0 || counts["A"]*100 > 45*all || counts["C"] < counts["A"] {
		t.Fatalf("tiers are not Pareto-like: %v", counts)
	}
	t.Logf("tiers: %v", counts)
	// visits with gaps: some A customers are overdue for a visit, some are not
	var overdue, onTime int
	todayStamp := today.Format("2006-01-02 15:04:05.000Z")
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM customers WHERE tier = 'A' AND next_visit_due < {:t}").Bind(dbx.Params{"t": todayStamp}).Row(&overdue)
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM customers WHERE tier = 'A' AND next_visit_due >= {:t}").Bind(dbx.Params{"t": todayStamp}).Row(&onTime)
	if overdue == 0 || onTime == 0 {
		t.Fatalf("A customers: %d overdue, %d not: the demo shows no coverage to manage", overdue, onTime)
	}

	// nothing was created in the future (a visit planned for next week exists since today at the latest)
	for _, table := range []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Orders, crm.OrderLines, crm.Opportunities} {
		var n int
		_ = app.DB().NewQuery("SELECT COUNT(*) FROM " + table + " WHERE created > {:t} OR updated > {:t}").
			Bind(dbx.Params{"t": today.AddDate(0, 0, 1).Format("2006-01-02 15:04:05.000Z")}).Row(&n)
		if n > 0 {
			t.Errorf("%d %s created or updated after the seed's day", n, table)
		}
	}

	// each customer's last visit is its latest checked-in visit
	err = app.DB().NewQuery(`SELECT c.id FROM customers c
		WHERE c.last_visit_at IS NOT COALESCE((SELECT MAX(v.checked_in_at) FROM visits v WHERE v.customer = c.id AND v.checked_in_at != ''), '')`).All(&bad)
	if err != nil || len(bad) > 0 {
		t.Fatalf("customers whose last visit is not their latest check-in: %v %v", bad, err)
	}

	// every deal has one open line of history, in its stage; a lost one says why
	err = app.DB().NewQuery(`
		SELECT o.id FROM opportunities o
		WHERE (SELECT COUNT(*) FROM opportunity_history h WHERE h.opportunity = o.id AND h.left_at = '' AND h.stage = o.stage) != 1
		   OR (o.stage = 'stagelost000000' AND o.lost_reason = '')`).All(&bad)
	if err != nil || len(bad) > 0 {
		t.Fatalf("deals without their history or reason: %v %v", bad, err)
	}

	// re-saving through the hooks changes nothing
	for _, table := range []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Opportunities, crm.Orders, crm.OrderLines} {
		records, err := app.FindRecordsByFilter(table, "", "id", 150, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			fields := func() string {
				data := r.FieldsData()
				delete(data, "updated")
				return fmt.Sprint(data)
			}
			before := fields()
			if err := app.Save(r); err != nil {
				t.Fatalf("%s %s does not pass the hooks: %v", table, r.Id, err)
			}
			if after := fields(); after != before {
				t.Fatalf("%s %s changed when saved through the hooks:\nseeded %s\nhooks  %s", table, r.Id, before, after)
			}
		}
	}

	// spot checks of realism
	var tzs []string
	if err := app.DB().NewQuery("SELECT DISTINCT timezone FROM customers").Column(&tzs); err != nil || len(tzs) < 4 {
		t.Errorf("customers span %d time zones, want at least 4 (%v)", len(tzs), err)
	}
	var months []string
	if err := app.DB().NewQuery("SELECT DISTINCT substr(birthday, 1, 2) FROM contacts").Column(&months); err != nil || len(months) != 12 {
		t.Errorf("birthdays fall in %d months, want 12 (%v)", len(months), err)
	}
	var geo []string
	if err := app.DB().NewQuery("SELECT DISTINCT geo_status FROM visits").Column(&geo); err != nil || len(geo) != 3 {
		t.Errorf("visits have geo statuses %v, want verified, far and unknown", geo)
	}
	var birthdaysToday int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM contacts WHERE birthday = {:d}").Bind(dbx.Params{"d": today.Format("01-02")}).Row(&birthdaysToday); err != nil || birthdaysToday < 4 {
		t.Errorf("%d contacts have their birthday on the seed day, want one per rep at least", birthdaysToday)
	}
}

func TestSeededUsersCanSignIn(t *testing.T) {
	t.Parallel()
	app := testapp.Empty(t)
	if _, err := seed.Run(context.Background(), app, small(1), io.Discard); err != nil {
		t.Fatal(err)
	}
	client := testapp.NewClient(t, app)
	res := client.Do(testapp.Anon, http.MethodPost, "/api/collections/users/auth-with-password",
		map[string]any{"identity": seed.RepEmail(1), "password": seed.DemoPassword})
	if res.Status != 200 || !strings.Contains(res.Body, `"role":"rep"`) {
		t.Fatalf("demo rep sign-in: %d %s", res.Status, res.Body)
	}
	rep, err := app.FindAuthRecordByEmail("users", seed.RepEmail(1))
	if err != nil {
		t.Fatal(err)
	}
	owned, _ := app.CountRecords("customers", dbx.HashExp{"owner": rep.Id})
	if owned == 0 {
		t.Fatal("the demo rep owns no customers")
	}
}

// TestSeedHandsBackTheWriterAsItFoundIt: the seed enlarges the write
// connection's page cache for its bulk load; a process that serves after
// seeding (the tests, the benchmarks) then writes through a connection as
// the server opens it, not one with the seed's 256 MB cache, whose hash
// table SQLite walks whole at many commits.
func TestSeedHandsBackTheWriterAsItFoundIt(t *testing.T) {
	t.Parallel()
	app := testapp.Empty(t)
	var before, after int
	if err := app.NonconcurrentDB().NewQuery("PRAGMA cache_size").Row(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(context.Background(), app, small(2), io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := app.NonconcurrentDB().NewQuery("PRAGMA cache_size").Row(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("after the seed the writer's cache_size is %d, before it %d", after, before)
	}
}

func TestSeedRejectsBadSizes(t *testing.T) {
	t.Parallel()
	app := testapp.Empty(t)
	for _, mutate := range []func(*seed.Options){
		func(o *seed.Options) { o.Reps = 0 },
		func(o *seed.Options) { o.Managers = 0 },
		func(o *seed.Options) { o.Customers = -1 },
		func(o *seed.Options) { o.Products = 0 },
		func(o *seed.Options) { o.Password = "short" },
	} {
		o := small(1)
		mutate(&o)
		if _, err := seed.Run(context.Background(), app, o, io.Discard); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if n, _ := app.CountRecords("users"); n != 0 {
		t.Fatalf("rejected options wrote %d users", n)
	}
}

// BenchmarkSeed measures the bulk seed against the baseline of writing the
// same kind of rows one by one through PocketBase's record API (app.Save,
// hooks and validation included). Compare the rows/s of the two.
func BenchmarkSeed(b *testing.B) {
	b.Run("bulk", func(b *testing.B) {
		var rows, ns float64
		for b.Loop() {
			b.StopTimer()
			app := testapp.Empty(b)
			o := seed.DefaultOptions()
			o.Today, o.Customers, o.Reps = today, 1000, 20
			b.StartTimer()
			start := time.Now()
			stats, err := seed.Run(context.Background(), app, o, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			ns += float64(time.Since(start).Nanoseconds())
			rows += float64(stats.Total)
		}
		b.ReportMetric(rows/(ns/1e9), "rows/s")
	})
	b.Run("record-api", func(b *testing.B) {
		app := testapp.Empty(b)
		o := small(1)
		if _, err := seed.Run(context.Background(), app, o, io.Discard); err != nil {
			b.Fatal(err)
		}
		customer, err := app.FindFirstRecordByFilter("customers", "")
		if err != nil {
			b.Fatal(err)
		}
		visits, _ := app.FindCollectionByNameOrId("visits")
		const perOp = 500
		var ns float64
		var rows float64
		for b.Loop() {
			start := time.Now()
			err := app.RunInTransaction(func(tx core.App) error {
				for i := 0; i < perOp; i++ {
					v := core.NewRecord(visits)
					v.Load(map[string]any{"customer": customer.Id, "purpose": "benchmark", "check_in_lat": 52.5, "check_in_lng": 13.4})
					if err := tx.Save(v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			ns += float64(time.Since(start).Nanoseconds())
			rows += perOp
		}
		b.ReportMetric(rows/(ns/1e9), "rows/s")
	})
}

// The seed leaves the planner table and index sizes, without value samples
// (each new connection would load them).
func TestSeedLeavesSizesWithoutSamples(t *testing.T) {
	t.Parallel()
	app := testapp.Empty(t)
	if _, err := seed.Run(context.Background(), app, small(3), io.Discard); err != nil {
		t.Fatal(err)
	}
	var sizes, samples int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'visits'").Row(&sizes); err != nil {
		t.Fatal(err)
	}
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM sqlite_stat4").Row(&samples); err != nil {
		t.Fatal(err)
	}
	if sizes == 0 || samples != 0 {
		t.Fatalf("sqlite_stat1 rows for visits: %d (want some); sqlite_stat4 rows: %d (want none)", sizes, samples)
	}
}

// TestSeedNamesEveryTableAndEveryoneOnce: the summary names every table
// the seed filled, with the rows in the database; demo names are unique
// across the company (users share no first or last name, no contact has a
// user's first name or another person's full name, customers' names
// differ), for make run's company and for a few other seeds and sizes.
func TestSeedNamesEveryTableAndEveryoneOnce(t *testing.T) {
	t.Parallel()
	sizes := []seed.Options{seed.DefaultOptions()}
	for s := range uint64(3) {
		o := small(100 + s)
		o.Reps, o.Managers, o.Customers = 2+int(s)*7, 1+int(s), 30+int(s)*80
		sizes = append(sizes, o)
	}
	for _, o := range sizes {
		app := testapp.Empty(t)
		stats, err := seed.Run(context.Background(), app, o, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		stats.Summary(&out)
		for _, table := range crm.Collections {
			c, err := app.FindCollectionByNameOrId(table)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := app.DB().NewQuery(fmt.Sprintf("SELECT COUNT(*) FROM {{%s}}", table)).Row(&n); err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("  %-20s %d\n", table, n)
			if made := table == crm.Stages || table == crm.CompanySettings || c.IsView(); !made && n > 0 && !strings.Contains(out.String(), line) {
				t.Errorf("seed %d: the summary lacks %q:\n%s", o.Seed, line, out.String())
			}
		}
		var users, contacts, shops []string
		_ = app.DB().NewQuery("SELECT name FROM users").Column(&users)
		_ = app.DB().NewQuery("SELECT name FROM contacts").Column(&contacts)
		_ = app.DB().NewQuery("SELECT name FROM customers").Column(&shops)
		firsts, lasts, full := map[string]string{}, map[string]string{}, map[string]bool{}
		for _, u := range users {
			first, last, _ := strings.Cut(u, " ")
			if firsts[first] != "" || lasts[last] != "" {
				t.Fatalf("seed %d: users %q and %q/%q share a name", o.Seed, u, firsts[first], lasts[last])
			}
			firsts[first], lasts[last], full[u] = u, u, true
		}
		for _, c := range contacts {
			first, _, _ := strings.Cut(c, " ")
			if firsts[first] != "" || full[c] {
				t.Fatalf("seed %d: contact %q shares a name with a user or another contact", o.Seed, c)
			}
			full[c] = true
		}
		seen := map[string]bool{}
		for _, s := range shops {
			if seen[s] {
				t.Fatalf("seed %d: two customers are called %q", o.Seed, s)
			}
			seen[s] = true
		}
	}
}
