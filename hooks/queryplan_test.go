package hooks_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/search"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
	"rounds/seed"
)

// planOf is SQLite's plan of the list query PocketBase builds from rule for
// the signed-in user: one line per step ("SEARCH contacts USING INDEX …").
func planOf(t *testing.T, app core.App, collection, rule, user string) []string {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := app.FindRecordById(crm.Users, user)
	if err != nil {
		t.Fatal(err)
	}
	resolver := core.NewRecordFieldResolver(app, c, &core.RequestInfo{Auth: auth, Context: core.RequestInfoContextDefault}, true)
	expr, err := search.FilterData(rule).BuildExpr(resolver)
	if err != nil {
		t.Fatalf("%s: %v", collection, err)
	}
	q := app.RecordQuery(c).AndWhere(expr)
	if err := resolver.UpdateQuery(q); err != nil {
		t.Fatal(err)
	}
	q.Limit(500) // PocketBase pages
	built := q.Build()
	var plan []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + built.SQL()).Bind(built.Params()).All(&plan); err != nil {
		t.Fatalf("%s: %v\n%s", collection, err, built.SQL())
	}
	out := make([]string, len(plan))
	for i, p := range plan {
		out[i] = p.Detail
	}
	return out
}

// scans reports whether the plan reads the whole table.
func scans(plan []string, table string) bool {
	for _, line := range plan {
		if line == "SCAN "+table || strings.HasPrefix(line, "SCAN "+table+" ") {
			return true
		}
	}
	return false
}

// TestReadRulesUseIndexes: the list query of every collection whose
// records carry scope columns finds a rep's records through an index (EXPLAIN QUERY PLAN shows no scan of
// the table), so that a list costs the same at a million rows as at a
// thousand.
//
// SQLite plans from statistics (PocketBase runs PRAGMA optimize), so the
// test seeds a company of two teams (about 50,000 records) and analyzes it.
// Under those statistics the rules from before scan: walking relations, or
// comparing the columns but reading the caller's role and active flag (a
// join, so PocketBase lists DISTINCT rows, and SQLite walks the whole table
// in id order: 330 ms for a rep's 420 visits at a million records, against
// 1.7 ms without the join).
func TestReadRulesUseIndexes(t *testing.T) {
	t.Parallel()
	opts := seed.DefaultOptions()
	opts.Managers, opts.Reps, opts.Customers = 2, 10, 1000
	app := testapp.Seeded(t, opts)
	if _, err := app.DB().NewQuery("ANALYZE").Execute(); err != nil {
		t.Fatal(err)
	}
	rep, err := app.FindAuthRecordByEmail(crm.Users, seed.RepEmail(1))
	if err != nil {
		t.Fatal(err)
	}
	// (a manager's team here holds half of each table, so walking the table
	// until a page is full is SQLite's fair choice for them; a rep's share
	// is small at any size)
	for _, user := range []string{rep.Id} {
		for _, s := range policy.ScopeSpecs() {
			rule := *s.Rule(policy.List)
			plan := planOf(t, app, s.Name, rule, user)
			if scans(plan, s.Name) {
				t.Errorf("%s as %s: the list scans the table:\n  %s", s.Name, user, strings.Join(plan, "\n  "))
			}
			// the rules before: the columns with the caller's role and
			// active flag, and walking relations
			scopes := strings.ReplaceAll(rule[strings.Index(rule, "("):], "|| scope_team", "|| (@request.auth.role = 'manager' && scope_team")
			before := []string{"@request.auth.id != '' && @request.auth.collectionName = 'users' && @request.auth.active = true && " + scopes + ")"}
			if s.Owner != "owner" {
				before = append(before, *s.WithoutScopeColumns().Rule(policy.List))
			}
			for _, old := range before {
				if p := planOf(t, app, s.Name, old, user); !scans(p, s.Name) {
					t.Errorf("%s as %s: the rule %q does not scan, so this test could not fail:\n  %s", s.Name, user, old, strings.Join(p, "\n  "))
				}
			}
		}
	}
}
