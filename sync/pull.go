package sync

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Migration is WatermelonDB's migrationSyncChanges: what a device added to
// its schema since its last sync, which must now arrive complete.
type Migration struct {
	From    int      `json:"from"`
	Tables  []string `json:"tables"`
	Columns []struct {
		Table   string   `json:"table"`
		Columns []string `json:"columns"`
	} `json:"columns"`
}

// PullRequest is a device's pull.
type PullRequest struct {
	Rep          string // the signed-in rep's id
	LastPulledAt *int64 // nil on the first sync
	Migration    *Migration
	// SchemaVersion is the device's synced schema; 0 means the current
	// one. Devices on version 1 (no removed_at column) get removals as
	// WatermelonDB deletions at once, as before tombstones.
	SchemaVersion int
	// Device names the device in the change log (WriterID): records it
	// pushed under a customer that has left the rep are removed from it.
	Device string
	// Unfinished: the device's previous synchronize() did not finish
	// (its push may not have arrived). Removals it was told of then stay
	// tombstones until a sync that follows a finished one.
	Unfinished bool
	// Now stamps tombstones (removed_at); zero means the clock.
	Now time.Time
}

// BadRequestError is a client mistake; its message is safe to return.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &BadRequestError{Msg: fmt.Sprintf(format, args...)}
}

// ParsePullQuery reads last_pulled_at, schema_version and migration; the
// version is 0 when the device did not say.
func ParsePullQuery(lastPulledAt, schemaVersion, migration string) (cursor *int64, version int, m *Migration, err error) {
	switch lastPulledAt {
	case "":
		return nil, 0, nil, badRequest("Query parameter last_pulled_at is required: null on a first pull, else the timestamp your last pull answered")
	case "null":
		// first sync
	default:
		n, err := strconv.ParseInt(lastPulledAt, 10, 64)
		if err != nil || n < 0 {
			return nil, 0, nil, badRequest("Query parameter last_pulled_at must be null on a first pull, else the timestamp your last pull answered (a whole number), got %q", clip(lastPulledAt))
		}
		cursor = &n
	}
	if schemaVersion == "" || schemaVersion == "null" {
		return nil, 0, nil, badRequest("Query parameter schema_version is required: the version of the schema your local database was built from (GET /api/sync/schema; the server's is %d)", SchemaVersion)
	}
	v, err := strconv.Atoi(schemaVersion)
	if err != nil || v < 1 {
		return nil, 0, nil, badRequest("Query parameter schema_version must be a whole number from 1 to %d, got %q", SchemaVersion, clip(schemaVersion))
	}
	if v > SchemaVersion {
		return nil, 0, nil, badRequest("Query parameter schema_version %d is newer than the server's schema (version %d)", v, SchemaVersion)
	}
	version = v
	if migration != "" && migration != "null" {
		m = new(Migration)
		if err := json.Unmarshal([]byte(migration), m); err != nil {
			return nil, 0, nil, badRequest("Query parameter migration must be WatermelonDB's migrationSyncChanges JSON or null: %v", err)
		}
		for _, t := range m.Tables {
			if _, ok := TableByName(t); !ok {
				return nil, 0, nil, badRequest("The migration names an unknown table %q", clip(t))
			}
		}
		for _, c := range m.Columns {
			t, ok := TableByName(c.Table)
			if !ok {
				return nil, 0, nil, badRequest("The migration names an unknown table %q", clip(c.Table))
			}
			for _, col := range c.Columns {
				if _, ok := t.Column(col); !ok && !(col == RemovedColumn && t.Tombstones()) {
					return nil, 0, nil, badRequest("The migration names an unknown column %s.%s", t.Name, clip(col))
				}
			}
		}
	}
	return cursor, version, m, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// snapshot is a read transaction: every query of one pull sees the same
// committed state, so the cursor and the changes agree.
type snapshot struct {
	ctx   context.Context
	tx    *sql.Tx
	cache *stmtCache
}

// rows runs text (with dbx's {:name} placeholders) in the snapshot.
func (s *snapshot) rows(text string, params dbx.Params) (*sql.Rows, error) {
	return queryIn(s.ctx, s.tx, s.cache, text, params)
}

// each runs text and calls scan for each row.
func (s *snapshot) each(text string, params dbx.Params, scan func(*sql.Rows) error) error {
	rows, err := s.rows(text, params)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// column returns the first column of text's rows.
func (s *snapshot) column(text string, params dbx.Params) ([]string, error) {
	var ids []string
	err := s.each(text, params, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// row scans text's first row into dest (sql.ErrNoRows when there is none).
func (s *snapshot) row(text string, params dbx.Params, dest ...any) error {
	rows, err := s.rows(text, params)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// Pull writes the changes of rep's scope since req.LastPulledAt to w, in
// WatermelonDB's pull format. It reads from one snapshot and streams rows,
// so memory stays bounded however large the territory.
func Pull(ctx context.Context, app core.App, req PullRequest, w io.Writer) error {
	db, ok := app.ConcurrentDB().(*dbx.DB)
	if !ok {
		return errors.New("pull: expected the concurrent database pool")
	}
	conn, err := db.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("pull: begin snapshot: %w", err)
	}
	defer conn.Close()
	if req.LastPulledAt == nil {
		unmap, err := mapFile(ctx, conn)
		if err != nil {
			return fmt.Errorf("pull: begin snapshot: %w", err)
		}
		defer unmap()
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("pull: begin snapshot: %w", err)
	}
	defer tx.Rollback()
	s := &snapshot{ctx: ctx, tx: tx, cache: readStatements(app)}

	var top int64
	if err := s.row("SELECT COALESCE(MAX(seq), 0) FROM "+ChangesTable, nil, &top); err != nil {
		return fmt.Errorf("pull: read cursor: %w", err)
	}
	var floor int64
	_ = s.row("SELECT CAST(value AS INTEGER) FROM "+metaTable+" WHERE key = 'pruned_through'", nil, &floor)

	full := req.LastPulledAt == nil
	var since, prev int64 // what the device pulled up to, and before that
	if !full {
		since, prev = DecodeCursor(*req.LastPulledAt)
	}
	replacement := !full && (since < floor || since > top)
	base := top // after a full pull the device holds the state at top
	if !full && !replacement {
		base = since
	}

	tomb := req.SchemaVersion == 0 || req.SchemaVersion >= 2
	out := newPullWriter(w, tomb)
	// a first sync starts from an empty database: a live record's missing
	// removed_at is null there, so it is left out (6 % of a first pull)
	out.live = tomb && !full
	if full || replacement {
		err = s.fullPull(out, req.Rep, req.SchemaVersion)
	} else {
		// Removals come in two steps: a tombstone in the pull that first
		// sees them, the deletion in the pull after (their change is then
		// in (prev, since]). A device on schema 1 gets the deletion at once.
		// (On schema 1 the second step deletes again, harmlessly, and
		// deletes what the device pushed under a customer after it left.)
		from := max(prev, floor)
		if req.Unfinished {
			// the push after the tombstones may not have arrived: keep
			// them tombstones, and this device's previous position
			base = from
		}
		now := req.Now
		if now.IsZero() {
			now = time.Now()
		}
		r := removals{from: from, since: since, top: top, hard: !req.Unfinished, at: now.UnixMilli()}
		err = s.incrementalPull(out, req, r)
	}
	if err != nil {
		return err
	}
	return out.finish(EncodeCursor(top, base), replacement)
}

// FirstPullMmapBytes is how much of the database file a first pull reads
// through memory mapping (SQLite's mmap_size) instead of read calls.
//
// Connections do not map the file otherwise. In WAL mode a connection that
// starts a read after another has committed unmaps the whole file and
// faults each page in again, and on a syncing server nearly every read
// starts after a commit: under rounds loadtest at 100 syncs a second the
// mapping cost 11.9-13.8 ms of server CPU per sync against 8.8-11.0 ms
// with first pulls alone mapped, and the node carried 84-99 syncs a second
// at 150 asked against 144-150 (BENCHMARKS.md). A first pull reads a whole
// territory, which mapped pages give it without copying each into a
// buffer: the burst of 200 first syncs (BenchmarkConcurrent200Reps) had a
// p99 of 2.1-2.6 s with every connection mapped, 2.5-2.6 s with first
// pulls mapped, 2.7-3.4 s with none.
const FirstPullMmapBytes = 1 << 30

// mapFile has conn read the database file through memory mapping until
// the returned unmap; a connection that cannot be set back is discarded,
// never returned to the pool mapped.
func mapFile(ctx context.Context, conn *sql.Conn) (unmap func(), err error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size = %d", FirstPullMmapBytes)); err != nil {
		return nil, err
	}
	return func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA mmap_size = 0"); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}, nil
}

// removals is how an incremental pull treats records that left the rep's
// scope (deleted, moved, or under a customer that changed owner): a change
// after since gets a tombstone (or, on schema 1, a deletion); a change in
// (from, since], named by a tombstone in the previous pull, gets the
// deletion when hard is set.
type removals struct {
	from, since, top int64
	hard             bool
	at               int64 // removed_at of tombstones, epoch ms
}

// streamRows writes the rows of query as updated records of t, and returns
// the ids it wrote.
func (s *snapshot) streamRows(out *pullWriter, t Table, query string, params dbx.Params, seen map[string]bool) error {
	rows, err := s.rows(query, params)
	if err != nil {
		return fmt.Errorf("pull %s: %w", t.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.Columns)+1)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("pull %s: %w", t.Name, err)
		}
		id := asString(vals[0])
		if seen != nil {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		if err := out.record(t, id, vals[1:]); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *snapshot) fullPull(out *pullWriter, rep string, version int) error {
	for _, t := range Tables {
		if !t.In(version) {
			continue // a table the device's schema does not have yet
		}
		out.table(t.Name)
		if err := s.streamRows(out, t, scopedSelect(t, ""), dbx.Params{"rep": rep}, nil); err != nil {
			return err
		}
		out.deletedIDs(nil)
	}
	return nil
}

func (s *snapshot) incrementalPull(out *pullWriter, req PullRequest, rm removals) error {
	rep, since, top := req.Rep, rm.since, rm.top
	rng := dbx.Params{"rep": rep, "from": rm.from, "since": since, "top": top}

	// customers that entered the rep's scope since the cursor, or left it
	// since from
	var events []ownerEvent
	err := s.each(`
		SELECT record_id, owner_from, owner_to, seq FROM `+ChangesTable+` INDEXED BY _rounds_changes_owner_from
		WHERE owner_from = {:rep} AND owner_from != '' AND seq > {:from} AND seq <= {:top}
		UNION ALL
		SELECT record_id, owner_from, owner_to, seq FROM `+ChangesTable+` INDEXED BY _rounds_changes_owner_to
		WHERE owner_to = {:rep} AND owner_to != '' AND op = 'o' AND seq > {:since} AND seq <= {:top}
		ORDER BY seq`, rng, func(rows *sql.Rows) error {
		var ev ownerEvent
		err := rows.Scan(&ev.Customer, &ev.OwnerFrom, &ev.OwnerTo, &ev.Seq)
		events = append(events, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("pull: owner changes: %w", err)
	}
	entered := map[string]bool{}
	leftAt := map[string]int64{} // customer -> last time it left the rep
	for _, ev := range events {
		if ev.OwnerTo == rep {
			entered[ev.Customer] = true
		}
		if ev.OwnerFrom == rep {
			leftAt[ev.Customer] = ev.Seq
		}
	}
	// keep only those still (or no longer) in scope now
	owned := map[string]bool{}
	if len(entered)+len(leftAt) > 0 {
		ids, err := s.column(ownedAmongQuery, dbx.Params{"rep": rep, "ids": jsonIDs(keys(entered), keys(leftAt))})
		if err != nil {
			return fmt.Errorf("pull: current owners: %w", err)
		}
		for _, id := range ids {
			owned[id] = true
		}
	}
	for id := range entered {
		if !owned[id] {
			delete(entered, id)
		}
	}

	// every record changed since from under a customer the rep owns, with
	// its last change: the rep's feed (customers that just entered come
	// whole, below)
	last := map[string]map[string]int64{}
	var rows []feedRow
	err = s.each(feedQuery, rng, func(r *sql.Rows) error {
		var row feedRow
		err := r.Scan(&row.Tbl, &row.RecordID, &row.Customer, &row.Last)
		rows = append(rows, row)
		return err
	})
	if err != nil {
		return fmt.Errorf("pull: changes: %w", err)
	}
	// the rep's feed names changes made while the rep owned the customer:
	// of a customer that has left since, the tombstones below tell
	underOwned := map[string]bool{}
	if customers := feedCustomers(rows); len(customers) > 0 {
		ids, err := s.column(ownedAmongQuery, dbx.Params{"rep": rep, "ids": jsonIDs(customers)})
		if err != nil {
			return fmt.Errorf("pull: owners of the feed's customers: %w", err)
		}
		for _, id := range ids {
			underOwned[id] = true
		}
	}
	for _, r := range rows {
		if entered[r.Customer] || (r.Customer != "" && !underOwned[r.Customer]) {
			continue
		}
		if last[r.Tbl] == nil {
			last[r.Tbl] = map[string]int64{}
		}
		last[r.Tbl][r.RecordID] = max(last[r.Tbl][r.RecordID], r.Last)
	}

	// customers the rep lost: everything the rep may have known of them
	// goes, as tombstones first (left after since), then deleted
	tombs, deleted := map[string]map[string]bool{}, map[string]map[string]bool{}
	// (a customer that came back keeps what is still under it: the
	// removals are checked against the rep's scope below)
	for customer, at := range leftAt {
		switch {
		case at > since:
			if owned[customer] && !entered[customer] {
				continue
			}
			err = s.knownUnder(customer, at, rm.from, req.Device, tombs)
		case rm.hard:
			err = s.knownUnder(customer, at, 0, req.Device, deleted)
		}
		if err != nil {
			return err
		}
	}

	newTables := map[string]bool{}
	if req.Migration != nil {
		for _, t := range req.Migration.Tables {
			newTables[t] = true
		}
		for _, c := range req.Migration.Columns {
			newTables[c.Table] = true
		}
	}

	for _, t := range Tables {
		if !t.In(req.SchemaVersion) {
			continue
		}
		out.table(t.Name)
		seen := map[string]bool{}
		var recent, older []string // changed since the cursor; changed only before it
		for id, seq := range last[t.Name] {
			if seq > since {
				recent = append(recent, id)
			} else if rm.hard {
				older = append(older, id)
			}
		}
		slices.Sort(recent)
		switch {
		case newTables[t.Name]: // columns or tables the device just added: send them whole
			if err := s.streamRows(out, t, scopedSelect(t, ""), dbx.Params{"rep": rep}, seen); err != nil {
				return err
			}
		default:
			if len(recent) > 0 {
				if err := s.streamRows(out, t, "SELECT "+wireColumns(t)+byIDs(t, byRecord),
					dbx.Params{"rep": rep, "ids": jsonIDs(recent)}, seen); err != nil {
					return err
				}
			}
			if len(entered) > 0 && !t.ReadOnly {
				if err := s.streamRows(out, t, "SELECT "+wireColumns(t)+byIDs(t, byCustomer),
					dbx.Params{"rep": rep, "ids": jsonIDs(keys(entered))}, seen); err != nil {
					return err
				}
			}
		}
		// named by a tombstone last time: deleted unless back in scope
		for id := range deleted[t.Name] {
			if last[t.Name][id] == 0 {
				older = append(older, id)
			}
		}
		var gone []string
		if len(older) > 0 {
			present, err := s.column("SELECT t.id"+byIDs(t, byRecord), dbx.Params{"rep": rep, "ids": jsonIDs(older)})
			if err != nil {
				return fmt.Errorf("pull %s: %w", t.Name, err)
			}
			back := map[string]bool{}
			for _, id := range present {
				back[id] = true
			}
			for _, id := range older {
				if !back[id] && !seen[id] {
					gone = append(gone, id)
				}
			}
		}
		var removed []string
		for _, id := range recent {
			if !seen[id] {
				removed = append(removed, id)
			}
		}
		for id := range tombs[t.Name] {
			if !seen[id] && last[t.Name][id] == 0 {
				removed = append(removed, id)
			}
		}
		if !out.tomb || !t.Tombstones() { // deleted at once
			gone, removed = append(gone, removed...), nil
		}
		slices.Sort(removed)
		for _, id := range removed {
			if err := out.tombstone(id, rm.at); err != nil {
				return err
			}
		}
		slices.Sort(gone)
		gone = slices.Compact(gone)
		out.deletedIDs(gone)
	}
	return nil
}

// feedQuery reads a rep's feed: every record changed in the window while
// its customer was the rep's, with its last change, through the (owner,
// seq) index (its cost is what it carries), and the catalogue's changes
// since the cursor.
var feedQuery = `
		SELECT tbl, record_id, customer, MAX(seq) AS last FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner
		WHERE owner = {:rep} AND owner != '' AND seq > {:from} AND seq <= {:top} GROUP BY tbl, record_id, customer
		UNION ALL
		SELECT tbl, record_id, customer, MAX(seq) FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_customer
		WHERE customer = '' AND tbl IN ` + catalogueSQL + ` AND seq > {:since} AND seq <= {:top} GROUP BY tbl, record_id`

// ownedAmong lists which of the customers in {:ids} the rep owns, driven by
// the list (the planner otherwise walks every customer of the rep).
const ownedAmong = "SELECT DISTINCT c.id FROM json_each({:ids}) j CROSS JOIN customers c ON c.id = j.value WHERE c.owner = {:rep}"

// The reads a pull makes by lists of ids (variables so that a benchmark
// compares them with the ones before, in one run).
var (
	ownedAmongQuery = ownedAmong
	byIDs           = scopedByIDs
)

// feedRow is a record of a feed with its last change in the window.
type feedRow struct {
	Tbl, RecordID, Customer string
	Last                    int64
}

// feedCustomers lists the customers a feed's rows are under.
func feedCustomers(rows []feedRow) []string {
	set := map[string]bool{}
	for _, r := range rows {
		if r.Customer != "" {
			set[r.Customer] = true
		}
	}
	return keys(set)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func jsonIDs(lists ...[]string) string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	data, _ := json.Marshal(all)
	return string(data)
}

// keyCache holds, per table, each column's `,"name":` ready to append.
var keyCache = func() map[string][][]byte {
	out := map[string][][]byte{}
	for _, t := range Tables {
		for _, c := range t.Columns {
			out[t.Name] = append(out[t.Name], append(appendJSONString([]byte{','}, c.Name), ':'))
		}
	}
	return out
}()

func columnKeys(t Table) [][]byte { return keyCache[t.Name] }

// pullWriter streams WatermelonDB's pull response.
type pullWriter struct {
	tomb   bool // the device's schema has removed_at
	live   bool // live records carry removed_at: null (it may clear a tombstone)
	w      *bufio.Writer
	buf    []byte
	tables int
	rows   int
	err    error
}

func newPullWriter(w io.Writer, tomb bool) *pullWriter {
	pw := &pullWriter{w: bufio.NewWriterSize(w, 64<<10), tomb: tomb}
	pw.write([]byte(`{"changes":{`))
	return pw
}

func (p *pullWriter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.w.Write(b)
	}
}

func (p *pullWriter) table(name string) {
	p.buf = p.buf[:0]
	if p.tables > 0 {
		p.buf = append(p.buf, ',')
	}
	p.buf = appendJSONString(p.buf, name)
	p.buf = append(p.buf, `:{"created":[],"updated":[`...)
	p.write(p.buf)
	p.tables++
	p.rows = 0
}

func (p *pullWriter) record(t Table, id string, vals []any) error {
	p.buf = p.buf[:0]
	if p.rows > 0 {
		p.buf = append(p.buf, ',')
	}
	p.buf = append(p.buf, `{"id":`...)
	p.buf = appendJSONString(p.buf, id)
	for i, c := range t.Columns {
		p.buf = append(p.buf, columnKeys(t)[i]...)
		p.buf = appendJSON(p.buf, toWire(c, vals[i]))
	}
	if p.live && t.Tombstones() {
		p.buf = append(p.buf, `,"`+RemovedColumn+`":null`...)
	}
	p.buf = append(p.buf, '}')
	p.write(p.buf)
	p.rows++
	return p.err
}

// tombstone writes a removed record as an update of removed_at alone:
// WatermelonDB keeps the device's other values (and its unsynced edits),
// and creates a bare hidden record for an id it does not hold.
func (p *pullWriter) tombstone(id string, at int64) error {
	p.buf = p.buf[:0]
	if p.rows > 0 {
		p.buf = append(p.buf, ',')
	}
	p.buf = append(p.buf, `{"id":`...)
	p.buf = appendJSONString(p.buf, id)
	p.buf = append(p.buf, `,"`+RemovedColumn+`":`...)
	p.buf = strconv.AppendInt(p.buf, at, 10)
	p.buf = append(p.buf, '}')
	p.write(p.buf)
	p.rows++
	return p.err
}

func (p *pullWriter) deletedIDs(ids []string) {
	p.buf = append(p.buf[:0], `],"deleted":[`...)
	for i, id := range ids {
		if i > 0 {
			p.buf = append(p.buf, ',')
		}
		p.buf = appendJSONString(p.buf, id)
	}
	p.buf = append(p.buf, "]}"...)
	p.write(p.buf)
}

func (p *pullWriter) finish(timestamp int64, replacement bool) error {
	p.buf = append(p.buf[:0], `},"timestamp":`...)
	p.buf = strconv.AppendInt(p.buf, timestamp, 10)
	if replacement {
		p.buf = append(p.buf, `,"experimentalStrategy":"replacement"`...)
	}
	p.buf = append(p.buf, '}')
	p.write(p.buf)
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}
