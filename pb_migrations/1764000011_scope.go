package pb_migrations

import (
	"fmt"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/policy"
	rsync "rounds/sync"
)

// The scope columns (policy/scope.go): the records under a customer carry
// the user whose scope they are in and that user's manager, hidden from the
// API and indexed, kept by triggers; the read rules compare them, so that a
// REST list is an index search at a million rows as at a thousand (the
// rules used to walk customer.owner or order.customer.owner, which no index
// serves: 2.5 s for a rep's 1,500 order lines at a million records).
func init() {
	m.Register(func(app core.App) error {
		for _, s := range policy.ScopeSpecs() {
			c, err := app.FindCollectionByNameOrId(s.Name)
			if err != nil {
				return err
			}
			for _, name := range scopeColumns(s) {
				c.Fields.Add(&core.TextField{Name: name, Hidden: true, Max: 15})
				c.AddIndex("idx_"+s.Name+"_"+name, false, name, "")
			}
			if err := app.Save(c); err != nil {
				return fmt.Errorf("scope columns of %s: %w", s.Name, err)
			}
			if err := rsync.InstallTriggers(app.DB(), s.Name); err != nil { // in case the table was rebuilt
				return err
			}
		}
		if err := ResumeScope(app.DB()); err != nil {
			return err
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		if err := DropScope(app.DB()); err != nil {
			return err
		}
		if err := applyPolicy(app, false); err != nil { // rules that name no scope column
			return err
		}
		for _, s := range policy.ScopeSpecs() {
			c, err := app.FindCollectionByNameOrId(s.Name)
			if err != nil {
				continue
			}
			for _, name := range scopeColumns(s) {
				c.RemoveIndex("idx_" + s.Name + "_" + name)
				c.Fields.RemoveByName(name)
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// scopeColumns are the scope columns a spec's table gets (customers have
// their owner already).
func scopeColumns(s policy.Spec) []string {
	if s.Owner == "owner" {
		return []string{policy.ScopeTeam}
	}
	return []string{policy.ScopeOwner, policy.ScopeTeam}
}

// hasScope reports whether the tables have their scope columns yet (a
// migration before this one sees them without).
func hasScope(db dbx.Builder) bool {
	for _, s := range policy.ScopeSpecs() {
		var have []string
		if err := db.NewQuery("SELECT name FROM pragma_table_info({:t})").Bind(dbx.Params{"t": s.Name}).Column(&have); err != nil {
			return false
		}
		for _, c := range scopeColumns(s) {
			if !slices.Contains(have, c) {
				return false
			}
		}
	}
	return true
}

// InstallScope (re)creates the triggers that keep the scope columns, when
// the tables have them; run it again whenever one of those tables is
// rebuilt (a schema edit drops its triggers).
func InstallScope(db dbx.Builder) error {
	if !hasScope(db) {
		return nil
	}
	for _, stmt := range policy.ScopeTriggers() {
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			return fmt.Errorf("scope triggers: %w", err)
		}
	}
	return nil
}

// DropScope drops the scope triggers (a bulk load, or going down).
func DropScope(db dbx.Builder) error {
	var names []string
	if err := db.NewQuery("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_scope\\_%' ESCAPE '\\'").Column(&names); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := db.NewQuery("DROP TRIGGER IF EXISTS " + n).Execute(); err != nil {
			return err
		}
	}
	return nil
}

// ResumeScope sets every record's scope columns and installs the triggers
// (after a bulk load that dropped them with DropScope).
func ResumeScope(db dbx.Builder) error {
	if !hasScope(db) {
		return nil
	}
	for _, stmt := range policy.ScopeBackfill() {
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			return fmt.Errorf("scope columns: %w", err)
		}
	}
	return InstallScope(db)
}
