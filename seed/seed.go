// Package seed fills a Rounds database with a realistic, deterministic
// company: managers and reps in several time zones, their customers and
// contacts, products, visits, follow-ups, orders, care campaigns, devices,
// and a little push and conflict history.
//
// It writes with prepared SQL statements in large transactions, computing
// every server-owned value (prices, totals, geo status, submitted_at) with
// the same crm functions the record hooks use, so that a seeded database
// satisfies every invariant while loading at bulk speed.
package seed

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/pb_migrations"
	rsync "rounds/sync"
	"rounds/tiers"
)

// Options sizes the generated company. Per-customer figures are averages.
type Options struct {
	Seed                 uint64
	Today                time.Time // anchor of all dates (UTC midnight); zero means today
	Managers             int
	Reps                 int
	Customers            int
	ContactsPerCustomer  int
	VisitsPerCustomer    int
	FollowUpsPerCustomer int
	OrdersPerCustomer    int
	LinesPerOrder        int
	// OpportunitiesPerCustomer: deals in the funnel (from their own random
	// stream, so the rest of a seed's data does not change with it)
	OpportunitiesPerCustomer int
	Products                 int
	Password                 string // of every demo user
	BatchSize                int    // rows per transaction
}

// DefaultOptions is the demo company `make run` loads.
func DefaultOptions() Options {
	return Options{
		Seed:                     1,
		Managers:                 2,
		Reps:                     8,
		Customers:                160,
		ContactsPerCustomer:      3,
		VisitsPerCustomer:        10,
		FollowUpsPerCustomer:     2,
		OrdersPerCustomer:        5,
		LinesPerOrder:            3,
		OpportunitiesPerCustomer: 1,
		Products:                 40,
		Password:                 DemoPassword,
		BatchSize:                20000,
	}
}

// Demo logins, printed by `make run`.
const (
	DemoPassword = "rounds-demo"
	DemoDomain   = "rounds.test"
)

// RepEmail is the login of the i-th rep (1-based).
func RepEmail(i int) string { return fmt.Sprintf("rep%d@%s", i, DemoDomain) }

// ManagerEmail is the login of the i-th manager (1-based).
func ManagerEmail(i int) string { return fmt.Sprintf("manager%d@%s", i, DemoDomain) }

// Stats counts what Run wrote.
type Stats struct {
	Rows     map[string]int
	Total    int
	Duration time.Duration
}

// RowsPerSecond is the seed rate.
func (s Stats) RowsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Total) / s.Duration.Seconds()
}

func (o Options) validate() error {
	switch {
	case o.Managers < 1:
		return fmt.Errorf("--managers must be at least 1, got %d", o.Managers)
	case o.Reps < 1:
		return fmt.Errorf("--reps must be at least 1, got %d", o.Reps)
	case o.Customers < 0 || o.ContactsPerCustomer < 0 || o.VisitsPerCustomer < 0 ||
		o.FollowUpsPerCustomer < 0 || o.OrdersPerCustomer < 0 || o.LinesPerOrder < 0 || o.OpportunitiesPerCustomer < 0:
		return fmt.Errorf("sizes cannot be negative")
	case o.Products < 1:
		return fmt.Errorf("--products must be at least 1, got %d", o.Products)
	case len(o.Password) < 8:
		return fmt.Errorf("--password must have at least 8 characters")
	case o.BatchSize < 1:
		return fmt.Errorf("--batch must be at least 1")
	}
	return nil
}

// city is a home base of reps, with its time zone.
type city struct {
	name, tz string
	lat, lng float64
}

var cities = []city{
	{"Berlin", "Europe/Berlin", 52.5200, 13.4050},
	{"London", "Europe/London", 51.5072, -0.1276},
	{"Madrid", "Europe/Madrid", 40.4168, -3.7038},
	{"New York", "America/New_York", 40.7128, -74.0060},
	{"Chicago", "America/Chicago", 41.8781, -87.6298},
	{"Denver", "America/Denver", 39.7392, -104.9903},
	{"Los Angeles", "America/Los_Angeles", 34.0522, -118.2437},
	{"Sao Paulo", "America/Sao_Paulo", -23.5505, -46.6333},
	{"Johannesburg", "Africa/Johannesburg", -26.2041, 28.0473},
	{"Mumbai", "Asia/Kolkata", 19.0760, 72.8777},
	{"Tokyo", "Asia/Tokyo", 35.6762, 139.6503},
	{"Sydney", "Australia/Sydney", -33.8688, 151.2093},
	{"Auckland", "Pacific/Auckland", -36.8485, 174.7633},
}

// Run generates the company into app's database and reports progress to w.
func Run(ctx context.Context, app core.App, opts Options, w io.Writer) (Stats, error) {
	if err := opts.validate(); err != nil {
		return Stats{}, err
	}
	if opts.Today.IsZero() {
		opts.Today = time.Now().UTC()
	}
	opts.Today = time.Date(opts.Today.Year(), opts.Today.Month(), opts.Today.Day(), 0, 0, 0, 0, time.UTC)

	start := time.Now()
	g := &generator{
		ctx:      ctx,
		app:      app,
		opts:     opts,
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		out:      w,
		stats:    Stats{Rows: map[string]int{}},
		start:    start,
		lastShow: start,
	}
	// A large page cache keeps index pages of big seeds in memory (the
	// default of PocketBase's connection is about 32 MB).
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA cache_size = -262144").Execute(); err != nil {
		return Stats{}, fmt.Errorf("seed: enlarge page cache: %w", err)
	}
	defer freshWriter(app)
	// Bulk loading bypasses the change-capture triggers (three times
	// faster); the change log is then written in one pass per table.
	if err := rsync.SuspendCapture(app.NonconcurrentDB()); err != nil {
		return Stats{}, err
	}
	// the scope columns too: set in one pass per table at the end
	if err := pb_migrations.DropScope(app.NonconcurrentDB()); err != nil {
		return Stats{}, err
	}
	g.funnel = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5ca1ab1e))
	g.side = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x51de))
	g.names = newNames()
	steps := []func() error{g.users, g.products, g.campaigns, g.loadStages, g.customers, g.quotas}
	for _, step := range steps {
		if err := step(); err != nil {
			_ = rsync.InstallCapture(app.NonconcurrentDB())
			_ = pb_migrations.ResumeScope(app.NonconcurrentDB())
			return g.stats, err
		}
	}
	// each customer's last visit and next visit due, from the visits loaded
	for _, q := range []string{
		"UPDATE customers SET last_visit_at = " + crm.LastVisitSQL,
		"UPDATE customers SET next_visit_due = " + crm.NextVisitDueSQL(crm.DefaultCoverage),
	} {
		if _, err := app.NonconcurrentDB().NewQuery(q).Execute(); err != nil {
			_ = rsync.InstallCapture(app.NonconcurrentDB())
			_ = pb_migrations.ResumeScope(app.NonconcurrentDB())
			return g.stats, fmt.Errorf("seed: visit cycles: %w", err)
		}
	}
	if err := app.RunInTransaction(func(tx core.App) error { return pb_migrations.ResumeScope(tx.NonconcurrentDB()) }); err != nil {
		return g.stats, fmt.Errorf("seed: scope columns: %w", err)
	}
	if err := app.RunInTransaction(func(tx core.App) error { return rsync.ResumeCapture(tx.NonconcurrentDB()) }); err != nil {
		return g.stats, fmt.Errorf("seed: change log: %w", err)
	}
	// tiers from the revenue just loaded, as the nightly job sets them
	ts, err := tiers.Run(ctx, app, opts.Today)
	if err != nil {
		return g.stats, fmt.Errorf("seed: tiers: %w", err)
	}
	g.stats.Rows[crm.CustomerEvents] += ts.Changed
	g.stats.Total += ts.Changed
	// fresh statistics, so that SQLite plans with the real table sizes
	if err := analyze(app); err != nil {
		return g.stats, fmt.Errorf("seed: analyze: %w", err)
	}
	// copy the bulk write from the WAL into the database file now, rather
	// than in the server's first seconds
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		return g.stats, fmt.Errorf("seed: checkpoint: %w", err)
	}
	g.stats.Duration = time.Since(g.start)
	fmt.Fprintf(w, "seeded %d rows in %s (%.0f rows/s)\n", g.stats.Total, g.stats.Duration.Round(time.Millisecond), g.stats.RowsPerSecond())
	return g.stats, nil
}

// freshWriter closes the write connection the seed enlarged, so that the
// next write opens one as the server does. A process that seeds and then
// serves (the tests and benchmarks) kept a 256 MB page cache, whose hash
// table SQLite never shrinks and walks whole at each commit that split a
// page (balance_nonroot renumbers pages through the lock-byte page, far
// past the end of the file, and the commit then truncates the cache).
func freshWriter(app core.App) {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return
	}
	pool := db.DB()
	pool.SetMaxIdleConns(0) // closes the idle connection
	pool.SetMaxIdleConns(1) // PocketBase's setting for its write pool
}

type generator struct {
	ctx   context.Context
	app   core.App
	opts  Options
	rng   *rand.Rand
	out   io.Writer
	stats Stats
	start time.Time

	managers []string
	reps     []rep
	stages   []stage
	funnel   *rand.Rand // the opportunities' own stream
	side     *rand.Rand // the stuck phone's own stream (the rest does not move with it)
	names    *names
	catalog  []product
	lastShow time.Time
}

type rep struct {
	id   string
	home city
}

type product struct {
	id    string
	cents int64
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// id makes a deterministic PocketBase-style id (15 lowercase alphanumerics).
func (g *generator) id() string { return idFrom(g.rng) }

func idFrom(rng *rand.Rand) string {
	var b [15]byte
	for i := range b {
		b[i] = idAlphabet[rng.IntN(len(idAlphabet))]
	}
	return string(b[:])
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// around draws n around mean (uniform on [0, 2*mean]).
func (g *generator) around(mean int) int {
	if mean <= 0 {
		return 0
	}
	return g.rng.IntN(2*mean + 1)
}

// ts formats a time the way PocketBase stores dates.
func ts(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

func (g *generator) day(offset int) time.Time { return g.opts.Today.AddDate(0, 0, offset) }

// past keeps a record's creation out of the future: a visit planned for
// next week was created today at the latest.
func (g *generator) past(t time.Time) time.Time {
	if t.After(g.opts.Today) {
		return g.opts.Today
	}
	return t
}

// batch collects rows for several tables and flushes them in one
// transaction through prepared statements.
type batch struct {
	g     *generator
	rows  map[string][]dbx.Params
	order []string
	n     int
}

func (g *generator) newBatch() *batch { return &batch{g: g, rows: map[string][]dbx.Params{}} }

func (b *batch) add(table string, row dbx.Params) error {
	if _, ok := b.rows[table]; !ok {
		b.order = append(b.order, table)
	}
	b.rows[table] = append(b.rows[table], row)
	b.n++
	if b.n >= b.g.opts.BatchSize {
		return b.flush()
	}
	return nil
}

func (b *batch) flush() error {
	if b.n == 0 {
		return nil
	}
	if err := b.g.ctx.Err(); err != nil {
		return err
	}
	err := b.g.app.RunInTransaction(func(tx core.App) error {
		db, ok := tx.NonconcurrentDB().(*dbx.Tx)
		if !ok {
			return fmt.Errorf("seed: expected a transaction, got %T", tx.NonconcurrentDB())
		}
		exec, ok := db.Builder.(interface{ Executor() dbx.Executor })
		if !ok {
			return fmt.Errorf("seed: unexpected database builder %T", db.Builder)
		}
		for _, table := range b.order {
			if err := insertRows(b.g.ctx, exec.Executor(), table, b.rows[table]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, table := range b.order {
		b.g.stats.Rows[table] += len(b.rows[table])
		b.g.stats.Total += len(b.rows[table])
		b.rows[table] = b.rows[table][:0]
	}
	b.n = 0
	b.g.progress(false)
	return nil
}

// Summary prints every table the seed filled, with its rows, in the order
// of crm.Collections (then any other, by name).
func (st Stats) Summary(w io.Writer) {
	tables := slices.Clone(crm.Collections)
	for _, t := range slices.Sorted(maps.Keys(st.Rows)) {
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	for _, t := range tables {
		if st.Rows[t] > 0 {
			fmt.Fprintf(w, "  %-20s %d\n", t, st.Rows[t])
		}
	}
}

func (g *generator) progress(final bool) {
	if !final && time.Since(g.lastShow) < time.Second {
		return
	}
	g.lastShow = time.Now()
	elapsed := time.Since(g.start)
	fmt.Fprintf(g.out, "  %8d rows  %6.1fs  %8.0f rows/s  (customers %d, contacts %d, visits %d, orders %d, lines %d)\n",
		g.stats.Total, elapsed.Seconds(), float64(g.stats.Total)/elapsed.Seconds(),
		g.stats.Rows[crm.Customers], g.stats.Rows[crm.Contacts], g.stats.Rows[crm.Visits],
		g.stats.Rows[crm.Orders], g.stats.Rows[crm.OrderLines])
}

// insertRows writes rows through one prepared statement; every row of a
// table carries the same columns.
func insertRows(ctx context.Context, db dbx.Executor, table string, rows []dbx.Params) error {
	if len(rows) == 0 {
		return nil
	}
	tx, ok := db.(*sql.Tx)
	if !ok {
		return fmt.Errorf("seed: expected *sql.Tx, got %T", db)
	}
	cols := make([]string, 0, len(rows[0]))
	for c := range rows[0] {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for i, row := range rows { // a column missing from the first row would be dropped without a word
		for c := range row {
			if _, ok := rows[0][c]; !ok || len(row) != len(cols) {
				return fmt.Errorf("seed: row %d of %s has columns %v, the first row %v", i, table, slices.Sorted(maps.Keys(row)), cols)
			}
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	stmt, err := tx.PrepareContext(ctx, fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES (%s)`,
		table, strings.Join(quoted, ","), strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",")))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer stmt.Close()
	args := make([]any, len(cols))
	for _, row := range rows {
		for i, c := range cols {
			args[i] = row[c]
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// analyze gathers the planner's table and index sizes (sqlite_stat1) and
// drops the value samples SQLite's ANALYZE also takes (sqlite_stat4).
//
// Every new connection loads the samples, which doubled what opening one
// cost, and a statement that compares an indexed column with a bound
// value is compiled again whenever the value changes, to look it up in
// them. Rounds' queries are equality lookups on ids and owners, for which
// the average sizes plan the same.
func analyze(app core.App) error {
	db := app.NonconcurrentDB()
	if _, err := db.NewQuery("ANALYZE").Execute(); err != nil {
		return err
	}
	var samples int // the table exists only where SQLite is built with STAT4
	if err := db.NewQuery("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'").Row(&samples); err != nil || samples == 0 {
		return err
	}
	for _, q := range []string{"DELETE FROM sqlite_stat4", "ANALYZE sqlite_schema" /* reload without them */} {
		if _, err := db.NewQuery(q).Execute(); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
