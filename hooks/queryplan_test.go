package hooks_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/search"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
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
// records carry scope columns, for a rep and for a manager, finds the
// caller's records through an index (EXPLAIN QUERY PLAN shows no scan of
// the table), so that a list costs the same at a million rows as at a
// thousand. The rules that walk relations instead (before the scope
// columns) scan, which shows the check can see a scan.
func TestReadRulesUseIndexes(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	for _, user := range []string{testapp.UserRepA, testapp.UserManagerA} {
		for _, s := range policy.ScopeSpecs() {
			plan := planOf(t, app, s.Name, *s.Rule(policy.List), user)
			if scans(plan, s.Name) {
				t.Errorf("%s as %s: the list scans the table:\n  %s", s.Name, user, strings.Join(plan, "\n  "))
			}
			if s.Owner != "owner" { // customers' rule was a column already
				before := planOf(t, app, s.Name, *s.WithoutScopeColumns().Rule(policy.List), user)
				if !scans(before, s.Name) {
					t.Errorf("%s as %s: the relation-walking rule does not scan, so this test could not fail:\n  %s", s.Name, user, strings.Join(before, "\n  "))
				}
			}
		}
	}
}
