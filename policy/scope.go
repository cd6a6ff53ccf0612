package policy

import (
	"fmt"
	"strings"

	"rounds/crm"
)

// The scope columns: a record under a customer carries the user whose
// scope it is in (ScopeOwner, what its Owner path resolves to) and that
// user's manager while they have the role manager (ScopeTeam), both
// indexed, so that a read rule compares two columns of the record with the
// caller's id, walking no relation and reading no field of the caller's
// record: a REST list of a rep's or a manager's records is an index search
// whatever the size of the table. (A rule that reads the caller's role or
// active flag joins the users table; PocketBase then lists DISTINCT rows,
// and with statistics SQLite prefers to walk the whole table in id order.) Customers carry only the team (their owner is a column already).
// The database keeps the columns (ScopeTriggers) on every path that
// writes: REST, the dashboard, a sync push, the seed, plain SQL.
const (
	ScopeOwner = "scope_owner"
	ScopeTeam  = "scope_team"
)

// ScopeSpecs are the specs whose records carry scope columns.
func ScopeSpecs() []Spec {
	var out []Spec
	for _, s := range Specs {
		if s.ScopeColumns {
			out = append(out, s)
		}
	}
	return out
}

// ownerColumn is the column a read rule compares with the caller.
func (s Spec) ownerColumn() string {
	if s.Owner == "owner" {
		return "owner"
	}
	return ScopeOwner
}

// WithoutScopeColumns is the spec before its table had scope columns (the
// rules then walk the relations), for migrations that run before them.
func (s Spec) WithoutScopeColumns() Spec {
	s.ScopeColumns = false
	return s
}

func qi(name string) string { return `"` + name + `"` }

// ownerSQL is the owner of the record alias ("NEW") by path, as a scalar:
// customer.owner -> (SELECT "owner" FROM "customers" WHERE id = NEW."customer").
func ownerSQL(s Spec, alias string) string {
	steps := strings.Split(s.Owner, ".")
	expr := alias + "." + qi(steps[0])
	coll := Relations[steps[0]]
	for _, step := range steps[1:] {
		expr = fmt.Sprintf("(SELECT %s FROM %s WHERE id = %s)", qi(step), qi(coll), expr)
		coll = Relations[step]
	}
	return "COALESCE(" + expr + ", '')"
}

// TeamSQL is the SQL scalar of scope_team for the user owner (an SQL
// expression): their manager while that manager has the role manager, else
// empty. scope_team names only managers, so the read rule need not look at
// the caller's role.
func TeamSQL(owner string) string {
	return fmt.Sprintf(`COALESCE((SELECT u."manager" FROM "users" u JOIN "users" m ON m.id = u."manager" WHERE u.id = %s AND m."role" = '%s'), '')`, owner, Manager)
}

// managerSQL is user if they have the role manager, else empty.
func managerSQL(user string) string {
	return fmt.Sprintf(`COALESCE((SELECT id FROM "users" WHERE id = %s AND "role" = '%s'), '')`, user, Manager)
}

// underCustomer is the condition that a record of s lies under the
// customer id (the path to its customer, walked backwards).
func underCustomer(s Spec, id string) string {
	steps := strings.Split(strings.TrimSuffix(s.Owner, ".owner"), ".")
	var cond func(steps []string) string
	cond = func(steps []string) string {
		if len(steps) == 1 {
			return qi(steps[0]) + " = " + id
		}
		return fmt.Sprintf("%s IN (SELECT id FROM %s WHERE %s)", qi(steps[0]), qi(Relations[steps[0]]), cond(steps[1:]))
	}
	return cond(steps)
}

// ScopeTriggers is the DDL of the triggers that keep the scope columns:
// set on insert unless the writer set them (a sync push does, from the
// same owner path, in its store: TestScopeColumnsFollowEveryChange); set again on an update that names the record's parent
// (a PocketBase save writes every column back, stale scope columns with
// them; a sync push names only the columns it changes, never the parent,
// so it pays nothing); moved with a customer handed to another owner, a
// user given another manager, a manager's role changed. Each statement is
// idempotent (dropped and created).
func ScopeTriggers() []string {
	var ddl []string
	var ownerMoves, managerMoves, roleMoves []string
	for _, s := range ScopeSpecs() {
		t := qi(s.Name)
		var set, differs, touched, unset string
		if s.ownerColumn() == "owner" {
			set = fmt.Sprintf("%s = %s", ScopeTeam, TeamSQL(`NEW."owner"`))
			differs = fmt.Sprintf("NEW.%s IS NOT %s", ScopeTeam, TeamSQL(`NEW."owner"`))
			touched, unset = `"owner"`, ScopeTeam
			managerMoves = append(managerMoves, fmt.Sprintf(`UPDATE %s SET %s = %s WHERE "owner" = NEW.id;`, t, ScopeTeam, managerSQL(`NEW."manager"`)))
			roleMoves = append(roleMoves, fmt.Sprintf(`UPDATE %s SET %s = %s WHERE "owner" IN (SELECT id FROM "users" WHERE "manager" = NEW.id);`, t, ScopeTeam, managerSQL("NEW.id")))
		} else {
			owner := ownerSQL(s, "NEW")
			set = fmt.Sprintf("%s = %s, %s = %s", ScopeOwner, owner, ScopeTeam, TeamSQL(owner))
			differs = fmt.Sprintf("NEW.%s IS NOT %s OR NEW.%s IS NOT %s", ScopeOwner, owner, ScopeTeam, TeamSQL(owner))
			touched, unset = qi(strings.Split(s.Owner, ".")[0]), ScopeOwner
			ownerMoves = append(ownerMoves, fmt.Sprintf(`UPDATE %s SET %s = NEW."owner", %s = %s WHERE %s;`,
				t, ScopeOwner, ScopeTeam, TeamSQL(`NEW."owner"`), underCustomer(s, "NEW.id")))
			managerMoves = append(managerMoves, fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s = NEW.id;`, t, ScopeTeam, managerSQL(`NEW."manager"`), ScopeOwner))
			roleMoves = append(roleMoves, fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s IN (SELECT id FROM "users" WHERE "manager" = NEW.id);`, t, ScopeTeam, managerSQL("NEW.id"), ScopeOwner))
		}
		ddl = append(ddl,
			fmt.Sprintf("DROP TRIGGER IF EXISTS _scope_%s_ai", s.Name),
			fmt.Sprintf("CREATE TRIGGER _scope_%s_ai AFTER INSERT ON %s WHEN NEW.%s = '' BEGIN UPDATE %s SET %s WHERE id = NEW.id; END", s.Name, t, unset, t, set),
			fmt.Sprintf("DROP TRIGGER IF EXISTS _scope_%s_au", s.Name),
			fmt.Sprintf("CREATE TRIGGER _scope_%s_au AFTER UPDATE OF %s ON %s WHEN %s BEGIN UPDATE %s SET %s WHERE id = NEW.id; END",
				s.Name, touched, t, differs, t, set))
	}
	ddl = append(ddl,
		"DROP TRIGGER IF EXISTS _scope_customers_owner",
		fmt.Sprintf(`CREATE TRIGGER _scope_customers_owner AFTER UPDATE OF "owner" ON "customers" WHEN OLD."owner" IS NOT NEW."owner" BEGIN %s END`,
			strings.Join(ownerMoves, " ")),
		"DROP TRIGGER IF EXISTS _scope_users_manager",
		fmt.Sprintf(`CREATE TRIGGER _scope_users_manager AFTER UPDATE OF "manager" ON "users" WHEN OLD."manager" IS NOT NEW."manager" BEGIN %s END`,
			strings.Join(managerMoves, " ")),
		"DROP TRIGGER IF EXISTS _scope_users_role",
		fmt.Sprintf(`CREATE TRIGGER _scope_users_role AFTER UPDATE OF "role" ON "users" WHEN OLD."role" IS NOT NEW."role" BEGIN %s END`,
			strings.Join(roleMoves, " ")))
	return ddl
}

// ScopeBackfill sets the scope columns of every record (a migration, or a
// bulk load that ran without the triggers).
func ScopeBackfill() []string {
	var out []string
	for _, s := range ScopeSpecs() {
		if s.ownerColumn() == "owner" {
			out = append(out, fmt.Sprintf(`UPDATE %s SET %s = %s`, qi(s.Name), ScopeTeam, TeamSQL(qi(s.Name)+`."owner"`)))
			continue
		}
		owner := ownerSQL(s, qi(s.Name))
		out = append(out, fmt.Sprintf(`UPDATE %s SET %s = %s, %s = %s`, qi(s.Name), ScopeOwner, owner, ScopeTeam, TeamSQL(owner)))
	}
	return out
}

// scopeCollections: the collections whose tables the scope triggers name
// (their own, and those that move scopes).
var scopeCollections = []string{crm.Customers, crm.Users}

// ScopeTouches reports whether rebuilding the table of collection drops
// scope triggers (they must then be installed again).
func ScopeTouches(collection string) bool {
	for _, s := range ScopeSpecs() {
		if s.Name == collection {
			return true
		}
	}
	for _, c := range scopeCollections {
		if c == collection {
			return true
		}
	}
	return false
}
