package sync

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// The change log. SQLite triggers append a row to it inside every writing
// transaction, whoever writes (push, REST, dashboard, hooks, migrations), so
// seq order is commit order under SQLite's single writer. Pull cursors are
// seq values; the time of a change only orders conflicting edits.
//
// Each change carries its scope: `owner`, the rep who owned the record's
// customer when it changed (the customer's owner for a customer; ” for the
// catalogue and for customers nobody owns). An incremental pull reads its
// rep's own feed through the (owner, seq) index, so that it costs what it
// carries, not the rep's customers or the size of the log. A change logged
// before the column existed was given its customer's owner at that time
// (OwnerColumn): a rep's feed may then name a change from before the
// customer reached them, which the pull's window already leaves out.
//
// The time of a change is `at` (epoch ms) when the writer knows it (pushes,
// the seed) and otherwise `stamp`: the record's own `updated`, which
// PocketBase and the push set on every save. The triggers call no SQL
// function: a statement whose triggers call one may abort half-way, so
// SQLite gives it a statement journal and copies every page it touches;
// without it a push's writes cost a third less (see BENCHMARKS.md).
const (
	ChangesTable = "_rounds_changes"
	writerTable  = "_rounds_writer"
	metaTable    = "_rounds_sync_meta"
)

// WriterID names who writes in the change log: the rep's device when it
// said (X-Device-Id), else the rep. A device is named under its rep
// ("<rep>/<device>"), so that no account can pass for another's device by
// sending the same X-Device-Id: the change log's word on who wrote a record
// decides what a former owner may still write (the territory grace).
func WriterID(rep, device string) string {
	if device != "" {
		return rep + "/" + device
	}
	return "user:" + rep
}

// writtenBy reports whether a change log writer is the rep or one of the
// rep's devices.
func writtenBy(writer, rep string) bool {
	return rep != "" && (writer == "user:"+rep || strings.HasPrefix(writer, rep+"/"))
}

// Ops of a change row.
const (
	OpCreate = "c"
	OpUpdate = "u"
	OpDelete = "d"
	OpOwner  = "o" // a customer changed owner: owner_from -> owner_to
)

var captureTables = []string{
	`CREATE TABLE IF NOT EXISTS ` + ChangesTable + ` (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		tbl        TEXT NOT NULL,
		record_id  TEXT NOT NULL,
		op         TEXT NOT NULL,
		customer   TEXT NOT NULL DEFAULT '',
		cols       TEXT NOT NULL DEFAULT '',
		owner_from TEXT NOT NULL DEFAULT '',
		owner_to   TEXT NOT NULL DEFAULT '',
		device     TEXT NOT NULL DEFAULT '',
		at         INTEGER NOT NULL,
		stamp      TEXT NOT NULL DEFAULT '',
		owner      TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX IF NOT EXISTS _rounds_changes_customer ON ` + ChangesTable + ` (customer, seq)`,
	`CREATE INDEX IF NOT EXISTS _rounds_changes_record ON ` + ChangesTable + ` (tbl, record_id, seq)`,
	`CREATE INDEX IF NOT EXISTS _rounds_changes_owner_from ON ` + ChangesTable + ` (owner_from, seq) WHERE owner_from != ''`,
	`CREATE INDEX IF NOT EXISTS _rounds_changes_owner_to ON ` + ChangesTable + ` (owner_to, seq) WHERE owner_to != ''`,
	// no index on at: every write pays for each index of the log, and
	// pruning walks the log from its oldest end instead
	`DROP INDEX IF EXISTS _rounds_changes_at`,
	// who is writing: set by a push inside its transaction, empty otherwise
	`CREATE TABLE IF NOT EXISTS ` + writerTable + ` (id INTEGER PRIMARY KEY CHECK (id = 1), device TEXT NOT NULL, user TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS ` + metaTable + ` (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	// (the feed's index comes after the columns are there: ensureColumns)
	// a first row, so that a cursor is never 0 (which some clients treat as "never synced")
	`INSERT INTO ` + ChangesTable + ` (tbl, record_id, op, at)
		SELECT '_init', '', 'c', ` + nowMs + ` WHERE NOT EXISTS (SELECT 1 FROM ` + ChangesTable + `)`,
}

const nowMs = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`

const writerDevice = `COALESCE((SELECT device FROM ` + writerTable + ` WHERE id = 1), '')`

func q(name string) string { return `"` + name + `"` }

// scopeExpr is the SQL giving the customer of a row (row is NEW or OLD).
func scopeExpr(t Table, row string, deleting bool) string {
	switch {
	case t.Name == crm.Customers:
		return row + ".id"
	case t.Name == crm.OrderLines:
		expr := `(SELECT customer FROM orders WHERE id = ` + row + `."order")`
		if deleting { // the order may be gone already (cascade): take the customer it was logged under
			expr = `COALESCE(` + expr + `, (SELECT customer FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_record WHERE tbl = 'orders' AND record_id = ` + row + `."order" ORDER BY seq DESC LIMIT 1))`
		}
		return `COALESCE(` + expr + `, '')`
	case t.Parent != "":
		return row + "." + q(t.Parent)
	default:
		return "''" // products: everyone's
	}
}

// changedCols is the SQL listing the data columns an update changed, as
// ",a,b," (for a row where at least one differs: see anyChanged).
func changedCols(t Table) string {
	parts := make([]string, 0, len(t.Columns))
	for _, c := range t.DataColumns() {
		parts = append(parts, fmt.Sprintf(`(CASE WHEN OLD.%s IS NOT NEW.%s THEN '%s,' ELSE '' END)`, q(c.Name), q(c.Name), c.Name))
	}
	return `',' || ` + strings.Join(parts, " || ")
}

// anyChanged is the SQL condition that an update changed a data column.
func anyChanged(t Table) string {
	parts := make([]string, 0, len(t.Columns))
	for _, c := range t.DataColumns() {
		parts = append(parts, fmt.Sprintf(`OLD.%s IS NOT NEW.%s`, q(c.Name), q(c.Name)))
	}
	return strings.Join(parts, " OR ")
}

// insertChange is the statement of a capture trigger that logs a change.
// It says OR FAIL: a trigger takes the conflict clause of the statement
// that fired it when that has one (a push's writes say OR FAIL too, see
// store), and a DELETE has none, so with SQLite's default ABORT every
// delete kept a statement journal, a copy of each page it touched, for a
// row that cannot fail (every column is given, COALESCEd where it could be
// NULL). A write that fails for another reason rolls back the whole
// transaction, as before.
func insertChange(t Table, op, customer, owner, cols, ownerFrom, ownerTo, row string) string {
	return fmt.Sprintf(`INSERT OR FAIL INTO %s (tbl, record_id, op, customer, owner, cols, owner_from, owner_to, device, at, stamp) VALUES ('%s', %s.id, '%s', %s, %s, %s, %s, %s, %s, 0, %s."updated");`,
		ChangesTable, t.Name, row, op, customer, owner, cols, ownerFrom, ownerTo, writerDevice, row)
}

// ownerExpr is the SQL giving the rep who owns the customer of a row (the
// feed a change goes to). A record changed or deleted after its customer
// (a cascade) finds the customer gone: it takes the last owner its customer
// was logged under (COALESCE reads the log only then).
func ownerExpr(t Table, row string, deleting bool) string {
	switch {
	case t.Name == crm.Customers:
		return row + ".owner"
	case t.Parent == "":
		return "''" // the catalogue: everyone's
	}
	customer := scopeExpr(t, row, deleting)
	return `COALESCE((SELECT owner FROM customers WHERE id = ` + customer + `), (SELECT owner FROM ` + ChangesTable +
		` INDEXED BY _rounds_changes_customer WHERE customer = ` + customer + ` AND owner != '' ORDER BY seq DESC LIMIT 1), '')`
}

// ownerOf is the SQL giving the owner of the customer whose id customer
// (SQL) gives, or ” when there is none.
func ownerOf(customer string) string {
	return `COALESCE((SELECT owner FROM customers WHERE id = ` + customer + `), '')`
}

// ensureColumns adds the columns a change log made by an older Rounds
// lacks (stamp, owner), then the feed's index.
func ensureColumns(db dbx.Builder) error {
	if err := StampColumn(db); err != nil {
		return err
	}
	if err := OwnerColumn(db); err != nil {
		return err
	}
	_, err := db.NewQuery(`CREATE INDEX IF NOT EXISTS _rounds_changes_owner ON ` + ChangesTable + ` (owner, seq) WHERE owner != ''`).Execute()
	return err
}

// OwnerColumn adds the owner column to a change log made before it
// existed, giving each logged change its customer's owner now; a no-op
// otherwise.
func OwnerColumn(db dbx.Builder) error {
	return addColumn(db, "owner", "UPDATE "+ChangesTable+" SET owner = "+ownerOf(ChangesTable+".customer")+" WHERE customer != ''")
}

// StampColumn adds the stamp column to a change log made before it
// existed; a no-op otherwise.
func StampColumn(db dbx.Builder) error { return addColumn(db, "stamp", "") }

// addColumn adds a text column to a change log that lacks it, then runs
// fill (when not ""); a no-op when the column is there.
func addColumn(db dbx.Builder, name, fill string) error {
	var n int
	if err := db.NewQuery("SELECT COUNT(*) FROM pragma_table_info('" + ChangesTable + "') WHERE name = {:n}").Bind(dbx.Params{"n": name}).Row(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := db.NewQuery("ALTER TABLE " + ChangesTable + " ADD COLUMN " + name + " TEXT NOT NULL DEFAULT ''").Execute(); err != nil {
		return err
	}
	if fill == "" {
		return nil
	}
	_, err := db.NewQuery(fill).Execute()
	return err
}

// changeMillis is the time of a change row: at, else its stamp.
func changeMillis(at int64, stamp string) int64 {
	if at > 0 {
		return at
	}
	if ms, ok := fastDateMillis(stamp); ok {
		return ms
	}
	if t, err := types.ParseDateTime(stamp); err == nil && !t.IsZero() {
		return t.Time().UnixMilli()
	}
	return 0
}

// triggerKinds are the suffixes of the capture triggers of a table:
// after insert, after update, after an update that moved the record to
// another customer or owner, after delete.
var triggerKinds = []string{"ai", "au", "am", "ad"}

// triggers returns the DDL of the capture triggers of t.
//
// Updates are split in two triggers so that the common update pays for
// one plain INSERT: each statement of a trigger costs SQLite a few
// microseconds even when its WHERE is false, and building the row in a
// subquery (to log a move under both customers in one statement) cost as
// much again (BENCHMARKS.md). The rare move has a trigger of its own, on
// UPDATE OF the column that moves it, which a push's UPDATE names only
// when it changes that column.
func triggers(t Table) []string {
	name := func(suffix string) string { return "_rounds_" + t.Name + "_" + suffix }
	var ddl []string
	for _, kind := range triggerKinds {
		ddl = append(ddl, `DROP TRIGGER IF EXISTS `+name(kind))
	}
	ownerFrom, ownerTo := "''", "''"
	if t.Name == crm.Customers {
		ownerTo = "NEW.owner"
	}
	ddl = append(ddl, `CREATE TRIGGER `+name("ai")+` AFTER INSERT ON `+q(t.Name)+` BEGIN `+
		insertChange(t, OpCreate, scopeExpr(t, "NEW", false), ownerExpr(t, "NEW", false), "'*'", "''", ownerTo, "NEW")+` END`)

	ddl = append(ddl, `CREATE TRIGGER `+name("au")+` AFTER UPDATE ON `+q(t.Name)+` WHEN `+anyChanged(t)+` BEGIN `+
		insertChange(t, OpUpdate, scopeExpr(t, "NEW", false), ownerExpr(t, "NEW", false), changedCols(t), "''", "''", "NEW")+` END`)

	// a move: logged under the customer the record left as well (the
	// update trigger logs it under the new one), and a customer that
	// changed owner leaves one rep's scope and enters another's
	var moved, when, body string
	switch {
	case t.Name == crm.Customers:
		moved, when = "owner", `OLD.owner IS NOT NEW.owner`
		body = fmt.Sprintf(`INSERT OR FAIL INTO %s (tbl, record_id, op, customer, owner, owner_from, owner_to, device, at, stamp) VALUES ('customers', NEW.id, '%s', NEW.id, NEW.owner, OLD.owner, NEW.owner, %s, 0, NEW."updated");`,
			ChangesTable, OpOwner, writerDevice)
	case t.Parent != "":
		oldScope, newScope := scopeExpr(t, "OLD", false), scopeExpr(t, "NEW", false)
		moved, when = t.Parent, oldScope+` IS NOT `+newScope
		body = insertChange(t, OpUpdate, oldScope, ownerExpr(t, "OLD", false), changedCols(t), "''", "''", "NEW")
		if t.Name == crm.Orders { // the lines of an order that moved go with it
			body += fmt.Sprintf(` INSERT OR FAIL INTO %s (tbl, record_id, op, customer, owner, cols, device, at, stamp) SELECT 'order_lines', l.id, '%s', s.c, %s, '*', %s, 0, NEW."updated" FROM order_lines l, (SELECT NEW.customer AS c UNION SELECT OLD.customer) s WHERE l."order" = NEW.id;`,
				ChangesTable, OpUpdate, ownerOf("s.c"), writerDevice)
		}
	}
	if moved != "" {
		ddl = append(ddl, `CREATE TRIGGER `+name("am")+` AFTER UPDATE OF `+q(moved)+` ON `+q(t.Name)+` WHEN `+when+` BEGIN `+body+` END`)
	}

	if t.Name == crm.Customers {
		ownerFrom = "OLD.owner"
	}
	ddl = append(ddl, `CREATE TRIGGER `+name("ad")+` AFTER DELETE ON `+q(t.Name)+` BEGIN `+
		insertChange(t, OpDelete, scopeExpr(t, "OLD", true), ownerExpr(t, "OLD", true), "'*'", ownerFrom, "''", "OLD")+` END`)
	return ddl
}

// InstallCapture creates the change log and (re)creates the capture
// triggers of every synced table. It is idempotent; run it again whenever
// a synced collection's table is rebuilt (schema edits can drop triggers).
func InstallCapture(db dbx.Builder) error {
	for _, stmt := range captureTables {
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			return fmt.Errorf("install change log: %w", err)
		}
	}
	if err := ensureColumns(db); err != nil {
		return fmt.Errorf("install change log: %w", err)
	}
	for _, t := range Tables {
		if err := InstallTriggers(db, t.Name); err != nil {
			return err
		}
	}
	return nil
}

// InstallTriggers (re)creates the capture triggers of one synced table,
// over the columns the table has now: a migration that runs before a later
// one adds a table or a column installs what exists then, and the later
// migration installs the triggers again.
func InstallTriggers(db dbx.Builder, table string) error {
	t, ok := TableByName(table)
	if !ok {
		return nil
	}
	var have []string
	if err := db.NewQuery("SELECT name FROM pragma_table_info({:t})").Bind(dbx.Params{"t": table}).Column(&have); err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(have) == 0 {
		return nil // not created yet
	}
	t.Columns = slices.DeleteFunc(slices.Clone(t.Columns), func(c Column) bool { return !slices.Contains(have, c.Name) })
	for _, stmt := range triggers(t) {
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			return fmt.Errorf("install capture triggers on %s: %w", table, err)
		}
	}
	return nil
}

// DropTriggers drops the capture triggers of one table (before a
// migration removes a column they name; InstallCapture puts them back).
func DropTriggers(db dbx.Builder, table string) error {
	for _, s := range triggerKinds {
		if _, err := db.NewQuery(`DROP TRIGGER IF EXISTS _rounds_` + table + `_` + s).Execute(); err != nil {
			return err
		}
	}
	return nil
}

// SuspendCapture drops the capture triggers, for bulk loads into an empty
// database; ResumeCapture logs every existing record and puts them back.
func SuspendCapture(db dbx.Builder) error {
	for _, t := range Tables {
		for _, s := range triggerKinds {
			if _, err := db.NewQuery(`DROP TRIGGER IF EXISTS _rounds_` + t.Name + `_` + s).Execute(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResumeCapture writes a create row for every record of the synced tables
// (as the triggers would have) and reinstalls the triggers.
func ResumeCapture(db dbx.Builder) error {
	if err := ensureColumns(db); err != nil {
		return err
	}
	for _, t := range Tables {
		customer, owner, ownerTo, from := "t."+q(t.Parent), "COALESCE(c.owner, '')", "''", q(t.Name)+" t LEFT JOIN customers c ON c.id = t."+q(t.Parent)
		switch t.Name {
		case crm.Customers:
			customer, owner, ownerTo, from = "t.id", "t.owner", "t.owner", "customers t"
		case crm.OrderLines:
			customer, from = "o.customer", `order_lines t JOIN orders o ON o.id = t."order" LEFT JOIN customers c ON c.id = o.customer`
		case crm.Products, crm.Stages:
			customer, owner, from = "''", "''", q(t.Name)+" t"
		}
		stmt := fmt.Sprintf(`INSERT INTO %s (tbl, record_id, op, customer, owner, cols, owner_to, at) SELECT '%s', t.id, '%s', %s, %s, '*', %s, %s FROM %s ORDER BY t.rowid`,
			ChangesTable, t.Name, OpCreate, customer, owner, ownerTo, nowMs, from)
		if _, err := db.NewQuery(stmt).Execute(); err != nil {
			return fmt.Errorf("log existing %s: %w", t.Name, err)
		}
	}
	return InstallCapture(db)
}

// DropCapture removes the triggers and the change log.
func DropCapture(db dbx.Builder) error {
	for _, t := range Tables {
		for _, s := range triggerKinds {
			if _, err := db.NewQuery(`DROP TRIGGER IF EXISTS _rounds_` + t.Name + `_` + s).Execute(); err != nil {
				return err
			}
		}
	}
	for _, tbl := range []string{ChangesTable, writerTable, metaTable} {
		if _, err := db.NewQuery(`DROP TABLE IF EXISTS ` + tbl).Execute(); err != nil {
			return err
		}
	}
	return nil
}

// Prune drops change-log rows written before cutoff and records how far
// the log now reaches back: a device whose cursor is older gets a full
// replacement pull. Tombstones live as long as the rows around them.
func Prune(app core.App, cutoff time.Time) (removed int64, err error) {
	err = app.RunInTransaction(func(tx core.App) error {
		db := tx.NonconcurrentDB()
		// at grows with seq (one clock, one writer): the rows to drop are
		// the oldest ones, up to the first row that is recent enough
		// (a stamp is the record's `updated`, whose text sorts as its time)
		var through int64
		if err := db.NewQuery("SELECT COALESCE((SELECT seq FROM " + ChangesTable + " WHERE at >= {:cutoff} OR (at = 0 AND stamp >= {:stamp}) ORDER BY seq LIMIT 1) - 1, " +
			"(SELECT MAX(seq) FROM " + ChangesTable + "))").
			Bind(dbx.Params{"cutoff": cutoff.UnixMilli(), "stamp": cutoff.UTC().Format(types.DefaultDateLayout)}).Row(&through); err != nil {
			return err
		}
		var top int64
		if err := db.NewQuery("SELECT COALESCE(MAX(seq), 0) FROM " + ChangesTable).Row(&top); err != nil {
			return err
		}
		through = min(through, top-1) // keep the newest row: the cursor must never fall back to 0
		if through <= 0 {
			return nil
		}
		res, err := db.NewQuery("DELETE FROM " + ChangesTable + " WHERE seq <= {:s}").Bind(dbx.Params{"s": through}).Execute()
		if err != nil {
			return err
		}
		removed, _ = res.RowsAffected()
		_, err = db.NewQuery("INSERT INTO " + metaTable + " (key, value) VALUES ('pruned_through', {:s}) " +
			"ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)").Bind(dbx.Params{"s": through}).Execute()
		return err
	})
	return removed, err
}
