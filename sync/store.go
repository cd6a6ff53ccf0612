package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	gosync "sync"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// store is a push's view of the database. Records are loaded once, in
// batches, and kept with the push's own writes; writes go through
// statements prepared once per push, so that SQLite compiles the capture
// triggers once rather than for every record (that compile is most of the
// cost of a PocketBase save). Validation is PocketBase's own field
// validation, with relation targets checked against the loaded records.
//
// Its writes say OR FAIL rather than SQLite's default ABORT, so that SQLite
// does not keep a statement journal for each of them (a copy of every page
// the statement and its capture triggers touch, kept to undo just that
// statement): a push never goes on after a failed statement, the whole
// transaction rolls back.
type store struct {
	ctx     context.Context
	tx      core.App
	db      *sql.Tx
	records map[string]map[string]*row // table -> id -> record; nil: known not to exist
	stmts   map[string]*sql.Stmt
	cache   *stmtCache              // statements prepared on the database (nil: none)
	missed  []string                // texts this push prepared for itself, for the cache to learn
	index   map[string]*columnIndex // table -> its columns, sorted
	shapes  int                     // UPDATE statements prepared so far
}

func newStore(ctx context.Context, tx core.App, cache *stmtCache) (*store, error) {
	dbtx, ok := tx.NonconcurrentDB().(*dbx.Tx)
	if !ok {
		return nil, fmt.Errorf("push: expected a transaction, got %T", tx.NonconcurrentDB())
	}
	exec, ok := dbtx.Builder.(interface{ Executor() dbx.Executor })
	if !ok {
		return nil, fmt.Errorf("push: unexpected database builder %T", dbtx.Builder)
	}
	sqlTx, ok := exec.Executor().(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("push: unexpected executor %T", exec.Executor())
	}
	return &store{ctx: ctx, tx: tx, db: sqlTx, cache: cache, records: map[string]map[string]*row{},
		stmts: map[string]*sql.Stmt{}, index: map[string]*columnIndex{}}, nil
}

func (s *store) close() {
	for _, st := range s.stmts {
		st.Close()
	}
}

// stmt returns the statement of key: the first time, the cached statement
// of the text query gives, else one prepared for this push (query is not
// called again: building the text is per-record work otherwise).
func (s *store) stmt(key string, query func() string) (*sql.Stmt, error) {
	if st, ok := s.stmts[key]; ok {
		return st, nil
	}
	text := query()
	var st *sql.Stmt
	if parent := s.cache.get(text); parent != nil {
		st = s.db.StmtContext(s.ctx, parent)
	} else {
		var err error
		if st, err = s.db.PrepareContext(s.ctx, text); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", key, err)
		}
		s.missed = append(s.missed, text)
		if s.cache != nil {
			s.cache.misses.Add(1)
		}
	}
	s.stmts[key] = st
	return st, nil
}

func (s *store) exec(key string, query func() string, args ...any) error {
	st, err := s.stmt(key, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(s.ctx, args...)
	return err
}

// named returns the statement of text (dbx's {:name} placeholders) and
// params in its order: the cached statement when the cache has it; nil
// when statements are not cached (SetReadCacheForTest).
func (s *store) named(text string, params dbx.Params) (*sql.Stmt, string, []any, error) {
	n := compile(text)
	args, err := n.args(params)
	if err != nil || uncachedReads.Load() {
		return nil, n.text, args, err
	}
	st, err := s.stmt(n.text, func() string { return n.text })
	return st, n.text, args, err
}

// row runs text with params and scans its first row into dest
// (sql.ErrNoRows when there is none).
func (s *store) row(text string, params dbx.Params, dest ...any) error {
	st, text, args, err := s.named(text, params)
	switch {
	case err != nil:
		return err
	case st == nil:
		return s.db.QueryRowContext(s.ctx, text, args...).Scan(dest...)
	}
	return st.QueryRowContext(s.ctx, args...).Scan(dest...)
}

// execNamed runs the statement text with params.
func (s *store) execNamed(text string, params dbx.Params) error {
	st, text, args, err := s.named(text, params)
	switch {
	case err != nil:
		return err
	case st == nil:
		_, err = s.db.ExecContext(s.ctx, text, args...)
	default:
		_, err = st.ExecContext(s.ctx, args...)
	}
	return err
}

// preload loads the records of table with the given ids in batches.
func (s *store) preload(table string, ids []string) error {
	if s.records[table] == nil {
		s.records[table] = map[string]*row{}
	}
	var missing []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := s.records[table][id]; !ok && id != "" && !seen[id] {
			seen[id] = true
			missing = append(missing, id)
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), 500)
		found, err := s.load(table, missing[:n])
		if err != nil {
			return fmt.Errorf("load %s: %w", table, err)
		}
		for _, id := range missing[:n] {
			s.records[table][id] = nil
		}
		for _, r := range found {
			s.records[table][r.Id] = r
		}
		missing = missing[n:]
	}
	return nil
}

// load reads the records of table with the given ids through one
// prepared statement (the ids travel as one JSON array), preparing their
// values as PocketBase's record queries do: every column read as text,
// then each field's PrepareValue. (FindRecordsByIds took about twice as
// long in the profile: it compiles a statement with a placeholder per id
// and scans through maps.)
func (s *store) load(table string, ids []string) ([]*row, error) {
	c, err := s.tx.FindCachedCollectionByNameOrId(table)
	if err != nil {
		return nil, err
	}
	names := s.columns(c)
	st, err := s.stmt("load "+c.Name, func() string { return loadQuery(c.Name, names) })
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(s.ctx, jsonIDs(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := make([]core.Field, len(names))
	for i, name := range names {
		fields[i] = c.Fields.GetByName(name)
	}
	index := s.columnIndex(c)
	idAt := index.pos[core.FieldNameId]
	blank := core.NewRecord(c) // PrepareValue's record argument, which no PocketBase field reads
	vals := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []*row
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := &row{Id: vals[idAt].String, c: c, cols: index, vals: make([]any, len(names))}
		for i, f := range fields {
			var raw any
			if vals[i].Valid {
				raw = vals[i].String
			}
			if id, ok := plainRelation(f, raw); ok {
				r.vals[i] = id
				continue
			}
			v, err := f.PrepareValue(blank, raw)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", c.Name, names[i], err)
			}
			r.vals[i] = v
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// find returns the record, or nil when it does not exist.
func (s *store) find(table, id string) (*row, error) {
	if id == "" {
		return nil, nil
	}
	if r, ok := s.records[table][id]; ok {
		return r, nil
	}
	if err := s.preload(table, []string{id}); err != nil {
		return nil, err
	}
	return s.records[table][id], nil
}

func (s *store) finder() crm.Finder {
	return func(collection, id string) (crm.Stored, error) {
		r, err := s.find(collection, id)
		if r == nil || err != nil {
			return nil, err
		}
		return r, nil
	}
}

// validate runs PocketBase's field validation on r without touching the
// database: relation targets are looked up in the store. A link that is
// unchanged from orig (the stored version, nil for a new record) is not
// looked up again: deletes keep links whole (they cascade or empty them).
func (s *store) validate(r *core.Record, orig *row) error {
	errs := validation.Errors{}
	for _, f := range r.Collection().Fields {
		name := f.GetName()
		switch field := f.(type) {
		case *core.AutodateField:
			continue
		case *core.TextField:
			if field.PrimaryKey {
				continue // ids are checked by the push itself
			}
		case *core.RelationField:
			id := r.GetString(name)
			if id == "" {
				if field.Required {
					errs[name] = validation.NewError("validation_required", "cannot be blank")
				}
				continue
			}
			if orig != nil && orig.GetString(name) == id {
				continue
			}
			target, err := s.tx.FindCachedCollectionByNameOrId(field.CollectionId)
			if err != nil {
				return err
			}
			found, err := s.find(target.Name, id)
			if err != nil {
				return err
			}
			if found == nil {
				errs[name] = validation.NewError("validation_missing_rel_records", fmt.Sprintf("%s %s does not exist", target.Name, id))
			}
			continue
		}
		if err := s.validateField(f, r); err != nil {
			errs[name] = err
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validateField is the field's own ValidateValue, except that a text
// field's pattern is compiled once (PocketBase compiles it on every call,
// which showed up as 4 % of a push).
func (s *store) validateField(f core.Field, r *core.Record) error {
	text, ok := f.(*core.TextField)
	if !ok || text.Pattern == "" {
		return f.ValidateValue(s.ctx, s.tx, r)
	}
	plain := *text
	plain.Pattern = ""
	if err := plain.ValidateValue(s.ctx, s.tx, r); err != nil {
		return err
	}
	value := r.GetString(text.Name)
	if value == "" {
		return nil
	}
	re, err := compiledPattern(text.Pattern)
	if err != nil || !re.MatchString(value) {
		return validation.NewError("validation_invalid_format", "Invalid value format.")
	}
	return nil
}

var patterns gosync.Map // pattern -> *regexp.Regexp

func compiledPattern(p string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	patterns.Store(p, re)
	return re, nil
}

func (s *store) columns(c *core.Collection) []string { return s.columnIndex(c).names }

func (s *store) columnIndex(c *core.Collection) *columnIndex {
	if ix, ok := s.index[c.Name]; ok {
		return ix
	}
	ix := newColumnIndex(sortedColumns(c))
	s.index[c.Name] = ix
	return ix
}

// sortedColumns are the columns of c's table in the order the push's
// statements name them.
func sortedColumns(c *core.Collection) []string {
	cols := c.Fields.FieldNames()
	slices.Sort(cols)
	return cols
}

// args are the values of r's columns cols as PocketBase writes them (its
// DBExport, one column at a time).
func (s *store) args(r *core.Record, cols []string) ([]any, error) {
	fields := r.Collection().Fields
	args := make([]any, 0, len(cols)+1)
	for _, col := range cols {
		f := fields.GetByName(col)
		if id, ok := plainRelation(f, r.GetRaw(col)); ok {
			args = append(args, id)
			continue
		}
		if dv, ok := f.(core.DriverValuer); ok {
			v, err := dv.DriverValue(r)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
			continue
		}
		args = append(args, r.GetRaw(col))
	}
	return args, nil
}

// plainRelation is the value PocketBase's single relation field f makes of
// raw when raw is one plain id (or empty): raw itself. PocketBase gets
// there through a slice of unique ids, which was a fifth of a push's
// allocations.
func plainRelation(f core.Field, raw any) (string, bool) {
	rel, ok := f.(*core.RelationField)
	if !ok || rel.IsMultiple() {
		return "", false
	}
	id, ok := raw.(string)
	if !ok || strings.Contains(id, "[") {
		return "", false
	}
	return id, true
}

func quoteCols(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = `"` + c + `"`
	}
	return out
}

// insert writes a new record, stamping created and updated.
func (s *store) insert(r *core.Record) error {
	c := r.Collection()
	if r.Id == "" {
		r.Id = core.GenerateDefaultRandomId()
	}
	now := types.NowDateTime()
	for _, f := range c.Fields {
		if a, ok := f.(*core.AutodateField); ok && a.OnCreate {
			r.SetRaw(a.Name, now)
		}
	}
	cols := s.columns(c)
	args, err := s.args(r, cols)
	if err != nil {
		return err
	}
	query := func() string { return insertQuery(c.Name, cols) }
	if err := s.exec("insert "+c.Name, query, args...); err != nil {
		return fmt.Errorf("insert %s/%s: %w", c.Name, r.Id, err)
	}
	r.MarkAsNotNew()
	s.keep(r)
	return nil
}

// update writes the columns of an existing record that differ from orig
// (its stored version), stamping updated. Every column an UPDATE names
// costs SQLite an index rewrite, equal value or not, so a statement is
// prepared per set of changed columns; past maxUpdateShapes sets in one
// push, the rest write every column through one statement.
func (s *store) update(r *core.Record, orig *row) error {
	c := r.Collection()
	now := types.NowDateTime()
	for _, f := range c.Fields {
		if a, ok := f.(*core.AutodateField); ok && a.OnUpdate {
			r.SetRaw(a.Name, now)
		}
	}
	cols := s.columns(c)
	if s.shapes < maxUpdateShapes {
		changed := make([]string, 0, len(cols))
		for _, col := range cols {
			if col != core.FieldNameId && !sameValue(r.GetRaw(col), orig.GetRaw(col)) {
				changed = append(changed, col)
			}
		}
		cols = changed
	}
	args, err := s.args(r, cols)
	if err != nil {
		return err
	}
	query := func() string {
		s.shapes++
		return updateQuery(c.Name, cols)
	}
	if err := s.exec("update "+c.Name+" "+strings.Join(cols, ","), query, append(args, r.Id)...); err != nil {
		return fmt.Errorf("update %s/%s: %w", c.Name, r.Id, err)
	}
	s.keep(r)
	return nil
}

// maxUpdateShapes bounds the UPDATE statements one push prepares (each
// prepare compiles the capture triggers, about 0.1 ms).
const maxUpdateShapes = 32

// sameValue reports whether two stored field values are certainly equal
// (false when unsure: the column is then written).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case types.DateTime:
		y, ok := b.(types.DateTime)
		return ok && x.IsZero() == y.IsZero() && x.Time().Equal(y.Time())
	}
	return false
}

func (s *store) keep(r *core.Record) {
	s.set(r.Collection().Name, r.Id, written(r))
}

func (s *store) set(table, id string, r *row) {
	if s.records[table] == nil {
		s.records[table] = map[string]*row{}
	}
	s.records[table][id] = r
}

// errStillReferenced refuses a delete that would break a required link.
var errStillReferenced = errors.New("still referenced")

// removal is what deleting a record takes with it.
type removal struct {
	gone  []*row              // the record and what cascades from it, children first
	clear map[string][]string // table/id of a record that stays -> the links to it to empty
	order []string            // the keys of clear, in the order found
	in    map[string]bool     // table/id of every record in gone
}

// planDelete works out, reading only, what deleting r does, the way
// PocketBase does it: records that cascade go with it, optional links to
// them are emptied, and a required link from a record that stays refuses
// the whole delete before anything is written. The push therefore needs no
// savepoint around a delete (savepoints make SQLite copy every page the
// delete touches into a sub-journal).
func (s *store) planDelete(r *row) (*removal, error) {
	plan := &removal{clear: map[string][]string{}, in: map[string]bool{}}
	var blockers []string
	var walk func(r *row) error
	walk = func(r *row) error {
		key := r.Collection().Name + "/" + r.Id
		if plan.in[key] {
			return nil
		}
		plan.in[key] = true
		refs, err := s.tx.FindCachedCollectionReferences(r.Collection())
		if err != nil {
			return err
		}
		for refCollection, fields := range refs {
			if refCollection.IsView() {
				continue // a view's rows go with what they are made of
			}
			for _, f := range fields {
				rel, ok := f.(*core.RelationField)
				if !ok || rel.IsMultiple() {
					return fmt.Errorf("delete %s: unsupported reference %s.%s", r.Collection().Name, refCollection.Name, f.GetName())
				}
				ids, err := s.referencing(refCollection.Name, rel.Name, r.Id)
				if err != nil {
					return err
				}
				for _, id := range ids {
					ref := refCollection.Name + "/" + id
					switch {
					case rel.CascadeDelete:
						child, err := s.find(refCollection.Name, id)
						if err != nil {
							return err
						}
						if child != nil {
							if err := walk(child); err != nil {
								return err
							}
						}
					case rel.Required:
						blockers = append(blockers, ref)
					default:
						if _, ok := plan.clear[ref]; !ok {
							plan.order = append(plan.order, ref)
						}
						plan.clear[ref] = append(plan.clear[ref], rel.Name)
					}
				}
			}
		}
		plan.gone = append(plan.gone, r) // after what cascades from it
		return nil
	}
	if err := walk(r); err != nil {
		return nil, err
	}
	for _, ref := range blockers {
		if !plan.in[ref] {
			return nil, fmt.Errorf("%w by %s", errStillReferenced, strings.SplitN(ref, "/", 2)[0])
		}
	}
	return plan, nil
}

// delete removes r the way PocketBase does (see planDelete). A refusal
// (errStillReferenced) comes before any write.
func (s *store) delete(r *row) error {
	plan, err := s.planDelete(r)
	if err != nil {
		return err
	}
	for _, ref := range plan.order {
		if plan.in[ref] {
			continue // it goes anyway
		}
		table, id, _ := strings.Cut(ref, "/")
		child, err := s.find(table, id)
		if err != nil {
			return err
		}
		if child == nil {
			continue
		}
		edited := child.edit()
		for _, field := range plan.clear[ref] {
			edited.Set(field, "")
		}
		if err := s.update(edited, child); err != nil {
			return err
		}
	}
	for _, g := range plan.gone {
		c := g.Collection()
		query := func() string { return deleteQuery(c.Name) }
		if err := s.exec("delete "+c.Name, query, g.Id); err != nil {
			return fmt.Errorf("delete %s/%s: %w", c.Name, g.Id, err)
		}
		s.set(c.Name, g.Id, nil)
	}
	return nil
}

// referencing returns the ids of the records of table whose field points to id.
func (s *store) referencing(table, field, id string) ([]string, error) {
	st, err := s.stmt("refs "+table+"."+field, func() string { return refsQuery(table, field) })
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(s.ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		ids = append(ids, v)
	}
	return ids, rows.Err()
}

// lineTotals returns the line totals of an order.
func (s *store) lineTotals(orderID string) ([]float64, error) {
	st, err := s.stmt("line totals", func() string { return lineTotalsQuery })
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(s.ctx, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var v float64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
