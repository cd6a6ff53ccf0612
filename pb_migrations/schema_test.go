package pb_migrations_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/crm"
	_ "rounds/pb_migrations"
	"rounds/policy"
)

// contract lists the fields every collection must have, as the external
// contract names them.
var contract = map[string]string{
	crm.Users:          "name role manager timezone active",
	crm.Customers:      "name owner phone email address lat lng timezone tier notes created updated",
	crm.Contacts:       "customer name title phone email birthday birth_year care_opt_in preferred_channel timezone created updated",
	crm.Visits:         "customer contact rep planned_at checked_in_at checked_out_at check_in_lat check_in_lng purpose outcome notes geo_status created updated",
	crm.FollowUps:      "customer contact visit assignee due_at note status created updated",
	crm.Products:       "sku name unit_price currency active created updated",
	crm.Orders:         "customer rep visit status currency total notes submitted_at created updated",
	crm.OrderLines:     "order product quantity discount_pct unit_price line_total created updated",
	crm.Devices:        "user token platform app_version last_sync_at created updated",
	crm.ContactDevices: "contact token platform created updated",
	crm.CareCampaigns:  "name date title body tiers active created updated",
	crm.Notifications:  "kind audience user contact dedup_key title body status attempts next_attempt_at sent_at error created updated",
	crm.SyncConflicts:  "collection record_id field server_value client_value resolution rule user device created updated",
}

// unique lists the columns that must carry a unique index.
var unique = map[string]string{
	crm.Products:       "sku",
	crm.Devices:        "token",
	crm.ContactDevices: "token",
	crm.Notifications:  "dedup_key",
}

func newApp(t *testing.T) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	return app
}

func TestSchemaMatchesContract(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for name, fields := range contract {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Errorf("collection %s is missing", name)
			continue
		}
		for _, f := range strings.Fields(fields) {
			if c.Fields.GetByName(f) == nil {
				t.Errorf("%s.%s is missing", name, f)
			}
		}
		if col, ok := unique[name]; ok {
			found := false
			for _, idx := range c.Indexes {
				if strings.Contains(idx, "UNIQUE") && strings.Contains(idx, col) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s.%s has no unique index (%v)", name, col, c.Indexes)
			}
		}
	}
}

func TestChangeCaptureTriggersAfterAllMigrations(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '!_rounds!_%' ESCAPE '!'").Row(&n); err != nil || n != 34 {
		t.Fatalf("%d capture triggers (%v), want insert, update and delete for each of the 9 synced tables and move for the 7 that belong to a customer or a rep", n, err)
	}
}

func TestSyncedCollectionsTakeClientIDs(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for _, name := range []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Orders, crm.OrderLines} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		id := c.Fields.GetByName("id").(*core.TextField)
		if id.Min != crm.ClientIDMin || id.Max != crm.ClientIDMax || id.Pattern != crm.ClientIDPattern {
			t.Errorf("%s id: min %d max %d pattern %q", name, id.Min, id.Max, id.Pattern)
		}
	}
}

func TestSuperuserOnlyCollections(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for _, name := range []string{crm.Notifications, crm.SyncConflicts, crm.CareCampaigns, crm.ContactDevices, crm.SyncDevices} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*string{c.ListRule, c.ViewRule, c.CreateRule, c.UpdateRule, c.DeleteRule} {
			if r != nil {
				t.Errorf("%s has a non-superuser rule %q", name, *r)
			}
		}
	}
}

// TestNoIndexIsAPrefixOfAnother reads every table's indexes from SQLite:
// an index whose columns begin another index of the same table finds
// nothing that one does not, and every write pays for both. A unique
// index says something more, and a partial one holds only some rows.
func TestNoIndexIsAPrefixOfAnother(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	type index struct {
		name            string
		columns         []string
		unique, partial bool
	}
	var tables []string
	if err := app.DB().NewQuery("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'").Column(&tables); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		var list []struct {
			Name    string `db:"name"`
			Unique  bool   `db:"unique"`
			Partial bool   `db:"partial"`
		}
		if err := app.DB().NewQuery("SELECT name, \"unique\", partial FROM pragma_index_list({:t})").Bind(dbx.Params{"t": table}).All(&list); err != nil {
			t.Fatal(err)
		}
		var indexes []index
		for _, l := range list {
			var cols []string
			if err := app.DB().NewQuery("SELECT COALESCE(name, '(expression)') FROM pragma_index_info({:i}) ORDER BY seqno").Bind(dbx.Params{"i": l.Name}).Column(&cols); err != nil {
				t.Fatal(err)
			}
			indexes = append(indexes, index{l.Name, cols, l.Unique, l.Partial})
		}
		for _, a := range indexes {
			for _, b := range indexes {
				if a.name != b.name && !a.unique && !a.partial && !b.partial && len(a.columns) <= len(b.columns) && slices.Equal(a.columns, b.columns[:len(a.columns)]) {
					t.Errorf("%s: index %s (%s) begins index %s (%s): drop it", table, a.name, strings.Join(a.columns, ", "), b.name, strings.Join(b.columns, ", "))
				}
			}
		}
	}
}

// TestQueriesUseIndexes asks SQLite for the plans of the queries Rounds
// relies on: none may scan a whole table.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	queries := []string{
		"SELECT id FROM customers WHERE owner = 'x'",
		"SELECT id FROM contacts WHERE customer = 'x'",
		"SELECT id FROM contacts WHERE birthday = '03-02'",
		"SELECT id FROM visits WHERE customer = 'x'",
		"SELECT id FROM visits WHERE rep = 'x' AND planned_at >= '2026-03-02'",
		"SELECT id FROM follow_ups WHERE assignee = 'x' AND status = 'open' AND due_at < '2026-03-02'",
		"SELECT id FROM follow_ups WHERE status = 'open' AND due_at < '2026-03-02'",
		"SELECT id FROM orders WHERE customer = 'x'",
		"SELECT id FROM order_lines WHERE \"order\" = 'x'",
		"SELECT id FROM products WHERE sku = 'x'",
		"SELECT id FROM devices WHERE user = 'x'",
		"SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= '2026-03-02'",
		"SELECT id FROM users WHERE manager = 'x'",
		"SELECT id FROM visits WHERE contact = 'x'",
		"SELECT id FROM follow_ups WHERE visit = 'x'",
		"SELECT id FROM orders WHERE visit = 'x'",
		"SELECT id FROM orders WHERE rep = 'x'",
		"SELECT id FROM notifications WHERE contact = 'x'",
	}
	for _, q := range queries {
		var plan []struct {
			Detail string `db:"detail"`
		}
		if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + q).All(&plan); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, p := range plan {
			if strings.HasPrefix(p.Detail, "SCAN") {
				t.Errorf("%s\n  scans: %s", q, p.Detail)
			}
		}
	}
}

func TestMigrationDownAndUpAgain(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	runner := core.NewMigrationsRunner(app, core.AppMigrations)
	if _, err := runner.Down(len(core.AppMigrations.Items())); err != nil { // every migration of Rounds
		t.Fatalf("down: %v", err)
	}
	users, err := app.FindCollectionByNameOrId(crm.Users)
	if err != nil {
		t.Fatal(err)
	}
	if users.Fields.GetByName("role") != nil {
		t.Fatal("down left users.role behind")
	}
	for name := range contract {
		if _, err := app.FindCollectionByNameOrId(name); err == nil && name != crm.Users {
			t.Errorf("down left %s behind", name)
		}
	}
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_rounds_%'").Row(&n); err != nil || n != 0 {
		t.Fatalf("down left %d change-capture objects behind (%v)", n, err)
	}
	applied, err := runner.Up()
	if err != nil || !slices.ContainsFunc(applied, func(s string) bool { return strings.HasSuffix(s, "_init.go") }) {
		t.Fatalf("up again: %v %v", applied, err)
	}
}

// TestRulesComeFromThePolicy: after every migration, each collection's API
// rules are exactly what package policy derives (a rule edited by hand in a
// migration, or forgotten, fails here).
func TestRulesComeFromThePolicy(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	for _, s := range policy.Specs {
		c, err := app.FindCollectionByNameOrId(s.Name)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		for _, r := range []struct {
			action policy.Action
			stored *string
		}{{policy.List, c.ListRule}, {policy.View, c.ViewRule}, {policy.Create, c.CreateRule}, {policy.Update, c.UpdateRule}, {policy.Delete, c.DeleteRule}} {
			want := s.Rule(r.action)
			if (want == nil) != (r.stored == nil) || (want != nil && *want != *r.stored) {
				t.Errorf("%s %s: stored rule %v, policy says %v", s.Name, r.action, deref(r.stored), deref(want))
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<superusers only>"
	}
	return *s
}
