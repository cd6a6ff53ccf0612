package sync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	"rounds/internal/testapp"
	rsync "rounds/sync"
)

// TestPullReadsTheRepsFeed: the query an incremental pull reads its changes
// with searches the change log by the (owner, seq) index and reads no other
// table, so that its cost is what it carries, not the rep's customers (the
// shape before, a join from the rep's customers to the log, fails it).
func TestPullReadsTheRepsFeed(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	var plan []struct {
		ID     int    `db:"id"`
		Parent int    `db:"parent"`
		Detail string `db:"detail"`
	}
	params := dbx.Params{"rep": testapp.UserRepA, "from": 1, "since": 1, "top": 1 << 40}
	if err := s.app.DB().NewQuery("EXPLAIN QUERY PLAN " + rsync.FeedQueryForTest()).Bind(params).All(&plan); err != nil {
		t.Fatal(err)
	}
	var steps []string
	owner := false
	for _, p := range plan {
		steps = append(steps, p.Detail)
		switch {
		case strings.Contains(p.Detail, "USING INDEX _rounds_changes_owner (owner=? AND seq>? AND seq<?)"):
			owner = true
		case strings.HasPrefix(p.Detail, "SCAN") && !strings.Contains(p.Detail, "USING INDEX"),
			strings.Contains(p.Detail, "customers"):
			t.Errorf("the feed's plan reads more than the feed: %q", p.Detail)
		}
	}
	if !owner {
		t.Errorf("the feed's plan does not search the (owner, seq) index:\n  %s", strings.Join(steps, "\n  "))
	}
	t.Logf("plan:\n  %s", strings.Join(steps, "\n  "))

	// the records the feed names are read by their ids (or their customers'),
	// starting from the list: no table is scanned, nothing is walked by owner
	// what a push asks for sync_again: each part searches an index from the
	// device's position, never walks the log or the rep's customers
	for _, query := range rsync.UnpulledQueriesForTest {
		var plan []struct {
			ID     int    `db:"id"`
			Parent int    `db:"parent"`
			Detail string `db:"detail"`
		}
		if err := s.app.DB().NewQuery("EXPLAIN QUERY PLAN " + query).Bind(dbx.Params{"rep": testapp.UserRepA, "w": "x", "top": 5, "base": 1}).All(&plan); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for _, p := range plan {
			if (strings.HasPrefix(p.Detail, "SCAN") && p.Detail != "SCAN CONSTANT ROW") || strings.Contains(p.Detail, "customers") {
				t.Errorf("a push's question for sync_again reads more than what is new: %q", p.Detail)
			}
		}
	}

	queries := map[string]string{"which customers the rep owns": rsync.OwnedAmongQueryForTest}
	for _, table := range rsync.Tables {
		for _, byCustomer := range []bool{false, true} {
			if !byCustomer || !table.ReadOnly {
				queries[fmt.Sprintf("%s (by customer: %v)", table.Name, byCustomer)] = rsync.ByIDsQueryForTest(table.Name, byCustomer)
			}
		}
	}
	for what, query := range queries {
		var plan []struct {
			ID     int    `db:"id"`
			Parent int    `db:"parent"`
			Detail string `db:"detail"`
		}
		if err := s.app.DB().NewQuery("EXPLAIN QUERY PLAN " + query).Bind(dbx.Params{"rep": testapp.UserRepA, "ids": `["a","b"]`}).All(&plan); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var steps []string
		for _, p := range plan {
			steps = append(steps, p.Detail)
		}
		if len(steps) == 0 || !strings.HasPrefix(steps[0], "SCAN j VIRTUAL TABLE") {
			t.Errorf("%s does not start from the list of ids:\n  %s", what, strings.Join(steps, "\n  "))
		}
		for _, d := range steps[1:] {
			if strings.HasPrefix(d, "SCAN") || strings.Contains(d, "(owner=") {
				t.Errorf("%s reads more than its ids: %q\n  %s", what, d, strings.Join(steps, "\n  "))
			}
		}
	}
}

// TestPushReadsWhatItNeedsOfTheLog: what a push reads besides the records
// it names costs what it is after, not what came before. Its question to
// the change log searches the record index from the device's base for the
// edits of others (the shape before, (op = 'd' OR seq > base), read every
// named record's whole history, fails it); a customer's last visit is one
// search of a covering index (the index on customer alone read each of the
// customer's visits).
func TestPushReadsWhatItNeedsOfTheLog(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	for _, c := range []struct {
		what, query string
		args        []any
		want        []string
	}{
		{"the history of the records a push names", rsync.HistoryQueryForTest, []any{"visits", `["a"]`, 1, "w", "visits", `["b"]`}, []string{
			"USING INDEX _rounds_changes_record (tbl=? AND record_id=? AND seq>?)",
			"USING INDEX _rounds_changes_record (tbl=? AND record_id=?)"}},
		{"a customer's last visit", strings.Replace(crm.LastVisitQuery, "{:c}", "?", 1), []any{"x"}, []string{
			"SEARCH visits USING COVERING INDEX idx_visits_customer (customer=?"}},
	} {
		rows, err := s.app.ConcurrentDB().(*dbx.DB).DB().Query("EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
			if strings.HasPrefix(detail, "SCAN") && !strings.Contains(detail, "VIRTUAL TABLE") {
				t.Errorf("%s scans: %q", c.what, detail)
			}
		}
		rows.Close()
		all := strings.Join(steps, "\n  ")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: the plan lacks %q:\n  %s", c.what, w, all)
			}
		}
	}
}

// TestEveryChangeNamesItsOwner: each write path logs the owner of the
// record's customer at the time: REST, a push, a hand-over (after it, the
// new owner), and a cascade that deletes a customer with its records (the
// owner it had); a log made before the column gets each change's
// customer's owner now.
func TestEveryChangeNamesItsOwner(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	last := func(tbl, id string) (owner string) {
		t.Helper()
		if err := s.app.DB().NewQuery("SELECT owner FROM " + rsync.ChangesTable + " WHERE tbl = {:t} AND record_id = {:id} ORDER BY seq DESC LIMIT 1").
			Bind(dbx.Params{"t": tbl, "id": id}).Row(&owner); err != nil {
			t.Fatalf("%s %s: %v", tbl, id, err)
		}
		return owner
	}
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"title": "Buyer"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if got := last("contacts", testapp.ContactA); got != testapp.UserRepA {
		t.Fatalf("a REST edit of rep A's contact is logged for %q", got)
	}
	cursor := s.pull(testapp.RepA, "null").Timestamp
	s.push(testapp.RepA, cursor, M{"visits": M{"created": []M{{"id": "feedvisit000001", "customer": testapp.CustomerA, "purpose": "feed"}}, "updated": []M{}, "deleted": []string{}}})
	if got := last("visits", "feedvisit000001"); got != testapp.UserRepA {
		t.Fatalf("a pushed visit of rep A is logged for %q", got)
	}
	// a hand-over: the customer's own change and what follows are rep B's
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{"owner": testapp.UserRepB}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if got := last("customers", testapp.CustomerA); got != testapp.UserRepB {
		t.Fatalf("the hand-over is logged for %q", got)
	}
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"title": "Owner"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if got := last("contacts", testapp.ContactA); got != testapp.UserRepB {
		t.Fatalf("an edit after the hand-over is logged for %q", got)
	}
	// a customer deleted with its records: each deletion for the owner it had
	c, err := s.app.FindRecordById("customers", testapp.CustomerA)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Delete(c); err != nil {
		t.Fatal(err)
	}
	var deletions []struct {
		Tbl   string `db:"tbl"`
		Owner string `db:"owner"`
	}
	if err := s.app.DB().NewQuery("SELECT tbl, owner FROM " + rsync.ChangesTable + " WHERE op = 'd'").All(&deletions); err != nil {
		t.Fatal(err)
	}
	if len(deletions) < 3 {
		t.Fatalf("the customer's deletion logged %d rows", len(deletions))
	}
	for _, d := range deletions {
		if d.Owner != testapp.UserRepB {
			t.Errorf("a deleted %s is logged for %q, want rep B", d.Tbl, d.Owner)
		}
	}

	// an older log: the column is added, with each customer's owner now
	db := s.app.NonconcurrentDB()
	if err := rsync.SuspendCapture(db); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP INDEX _rounds_changes_owner", "ALTER TABLE " + rsync.ChangesTable + " DROP COLUMN owner"} {
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rsync.InstallCapture(db); err != nil {
		t.Fatal(err)
	}
	var wrong int
	if err := db.NewQuery(`SELECT COUNT(*) FROM ` + rsync.ChangesTable + ` ch WHERE ch.customer != '' AND ch.owner IS NOT COALESCE((SELECT owner FROM customers WHERE id = ch.customer), '')`).Row(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong > 0 {
		t.Fatalf("%d changes of the older log are not given their customer's owner", wrong)
	}
	if res := s.client.Do(testapp.RepB, "PATCH", "/api/collections/contacts/records/"+testapp.ContactB, M{"title": "After"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if got, want := last("contacts", testapp.ContactB), ownerOf(t, s, testapp.CustomerB); got != want || got == "" {
		t.Fatalf("after the upgrade an edit is logged for %q, want %q", got, want)
	}
}

func ownerOf(t *testing.T, s *syncClient, customer string) string {
	t.Helper()
	c, err := s.app.FindRecordById("customers", customer)
	if err != nil {
		t.Fatal(err)
	}
	return c.GetString("owner")
}
