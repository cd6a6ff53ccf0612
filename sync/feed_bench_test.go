package sync_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	rsync "rounds/sync"
)

// legacyFeedQuery is how an incremental pull read its changes before the
// change log carried each change's owner (issue 26's starting point): from
// the rep's customers into the log, one probe of the log per customer.
var legacyFeedQuery = `
		SELECT ch.tbl, ch.record_id, ch.customer, MAX(ch.seq) AS last FROM customers c
		JOIN ` + rsync.ChangesTable + ` ch INDEXED BY _rounds_changes_customer ON ch.customer = c.id AND ch.seq > {:from} AND ch.seq <= {:top}
		WHERE c.owner = {:rep} GROUP BY ch.tbl, ch.record_id, ch.customer
		UNION ALL
		SELECT tbl, record_id, customer, MAX(seq) FROM ` + rsync.ChangesTable + ` INDEXED BY _rounds_changes_customer
		WHERE customer = '' AND tbl IN ('products', 'stages') AND seq > {:since} AND seq <= {:top} GROUP BY tbl, record_id`

// BenchmarkIncrementalPullFeed: incremental pulls of reps holding 5, 50,
// 300 (and, in the large one, 1,000) customers, in a company of about 55
// thousand and of about 1.1 million records, idle (nothing new) and carrying 30 records (20
// visits and 10 contacts the rep changed), each with the pull as it reads
// its feed now ("feed") and as it read the log before ("before": the join
// from the rep's customers), in one run. ns/op is one pull on one core
// (CPU time, as the pull runs on one goroutine).
func BenchmarkIncrementalPullFeed(b *testing.B) {
	for _, size := range []struct {
		name      string
		customers int
		reps      int
		holds     []int // customers of the reps measured
	}{{"55k", 850, 50, []int{5, 50, 300}}, {"1.1M", 26000, 300, []int{5, 50, 300, 1000}}} {
		b.Run("records="+size.name, func(b *testing.B) { pullFeed(b, size.name, size.reps, size.customers, size.holds) })
	}
}

func pullFeed(b *testing.B, name string, repCount, customers int, holds []int) {
	{
		app := seeded(b, sizes(repCount, customers))
		records := countRecords(app)
		b.Logf("%s: %d records", name, records)
		// reps 1..4 hold 5, 50, 300 and 1,000 customers, taken from the others
		reps := make([]*core.Record, len(holds))
		for i, n := range holds {
			reps[i], _ = repOf(b, app, i+1)
			give(b, app, reps[i].Id, n)
		}
		for i, n := range holds {
			for _, kind := range []string{"idle", "carrying30"} {
				top := topSeq(b, app)
				cursor := rsync.EncodeCursor(top, top)
				if kind == "carrying30" {
					change(b, app, reps[i].Id, "visits", "outcome", 20)
					change(b, app, reps[i].Id, "contacts", "title", 10)
				}
				for _, shape := range []string{"feed", "before"} {
					b.Run(fmt.Sprintf("customers=%d/%s/%s", n, kind, shape), func(b *testing.B) {
						if shape == "before" {
							defer rsync.SetLegacyReadsForTest(legacyFeedQuery)()
						}
						req := rsync.PullRequest{Rep: reps[i].Id, LastPulledAt: &cursor}
						w := &countingWriter{}
						if err := rsync.Pull(context.Background(), app, req, w); err != nil { // the page cache warm, as a running server has it
							b.Fatal(err)
						}
						for b.Loop() {
							w = &countingWriter{}
							if err := rsync.Pull(context.Background(), app, req, w); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(w.n), "response-bytes")
						b.ReportMetric(float64(records), "records")
					})
				}
			}
		}
	}
}

func topSeq(tb testing.TB, app core.App) int64 {
	var top int64
	if err := app.DB().NewQuery("SELECT MAX(seq) FROM " + rsync.ChangesTable).Row(&top); err != nil {
		tb.Fatal(err)
	}
	return top
}

// give makes rep hold n customers, taking them from other reps or giving
// the extra ones to others.
func give(tb testing.TB, app core.App, rep string, n int) {
	tb.Helper()
	var have int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM customers WHERE owner = {:r}").Bind(dbx.Params{"r": rep}).Row(&have); err != nil {
		tb.Fatal(err)
	}
	q := "UPDATE customers SET owner = {:r} WHERE id IN (SELECT c.id FROM customers c JOIN users u ON u.id = c.owner WHERE u.role = 'rep' AND u.email NOT LIKE 'rep1@%' AND u.email NOT LIKE 'rep2@%' AND u.email NOT LIKE 'rep3@%' AND u.email NOT LIKE 'rep4@%' ORDER BY c.id LIMIT {:n})"
	params := dbx.Params{"r": rep, "n": n - have}
	if have > n {
		var other string
		if err := app.DB().NewQuery("SELECT id FROM users WHERE email LIKE 'rep10@%'").Row(&other); err != nil {
			tb.Fatal(err)
		}
		q = "UPDATE customers SET owner = {:o} WHERE id IN (SELECT id FROM customers WHERE owner = {:r} ORDER BY id LIMIT {:n})"
		params = dbx.Params{"r": rep, "o": other, "n": have - n}
	}
	if have != n {
		if _, err := app.DB().NewQuery(q).Bind(params).Execute(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM customers WHERE owner = {:r}").Bind(dbx.Params{"r": rep}).Row(&have); err != nil || have != n {
		tb.Fatalf("the rep holds %d customers, want %d (%v)", have, n, err)
	}
}

// change edits n records of a table under rep's customers.
func change(tb testing.TB, app core.App, rep, table, column string, n int) {
	tb.Helper()
	res, err := app.DB().NewQuery("UPDATE " + table + " SET " + column + " = " + column + " || '.' WHERE id IN (SELECT t.id FROM " + table + " t JOIN customers c ON c.id = t.customer WHERE c.owner = {:r} ORDER BY t.id LIMIT {:n})").
		Bind(dbx.Params{"r": rep, "n": n}).Execute()
	if err != nil {
		tb.Fatal(err)
	}
	if got, _ := res.RowsAffected(); int(got) != n {
		tb.Logf("changed %d %s of %d wanted (the rep holds few)", got, table, n)
	}
}
