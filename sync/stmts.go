package sync

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/policy"
)

// Statements prepared once per database.
//
// A push writes through prepared statements, and preparing a write
// compiles the capture triggers it fires: about 0.1 ms a statement, which
// every push paid again for each of the ten or so statements it uses. The
// statements are therefore prepared once on the database (by Warm when the
// server starts, and in the background after a push that met one the cache
// lacked), and a push takes each into its transaction with Tx.StmtContext,
// which reuses the statement already prepared on the writer connection.
//
// A statement is found by its text, which names the table's columns:
// after a schema change a push asks for a new text, prepares it inside its
// own transaction as before, and the cache learns it after the commit.
// SQLite itself recompiles a cached statement whose tables changed.
type stmtCache struct {
	db       *sql.DB
	mu       gosync.Mutex
	stmts    map[string]*sql.Stmt
	learning map[string]bool // texts a background learn is preparing
	misses   atomic.Int64    // statements pushes had to prepare themselves
}

// maxCachedStmts bounds the cache: beyond it, pushes prepare their own
// (a server with many update shapes, or many schema changes).
const maxCachedStmts = 256

const stmtCacheKey = "rounds.sync.statements"

// statements returns app's cache of the push's statements, nil when app
// has no plain database handle (a transaction's app: its pushes prepare
// their own).
func statements(app core.App) *stmtCache {
	return cacheOf(app, app.NonconcurrentDB(), stmtCacheKey)
}

const readStmtCacheKey = "rounds.sync.readStatements"

// readStatements returns app's cache of the pull's statements, prepared on
// the read pool: the cache learns a text after the first pull that asked
// for it, then each connection of the pool prepares it once, the first time
// a pull on it asks for it, and keeps it while it stays open.
// Preparing the pull's few queries was a quarter of an idle pull's cost
// (BENCHMARKS.md).
func readStatements(app core.App) *stmtCache {
	return cacheOf(app, app.ConcurrentDB(), readStmtCacheKey)
}

func cacheOf(app core.App, builder dbx.Builder, key string) *stmtCache {
	dbxDB, ok := builder.(*dbx.DB)
	if !ok {
		return nil
	}
	db := dbxDB.DB()
	// the database handle changes when PocketBase reopens it (a restored
	// backup): the cache belongs to one handle
	var cache *stmtCache
	app.Store().SetFunc(key, func(old any) any {
		if c, ok := old.(*stmtCache); ok && c.db == db {
			cache = c
		} else {
			cache = &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, learning: map[string]bool{}}
		}
		return cache
	})
	return cache
}

// uncachedReads turns off the cache of the pull's statements and of the
// push's statements with placeholders (SetReadCacheForTest, for a
// benchmark's comparison).
var uncachedReads atomic.Bool

// readStmt returns the cached statement of text; nil when the cache lacks
// it (the caller prepares its own, and the cache learns it in the
// background: preparing it here would hold a second connection of the pool
// while the pull holds one, and a burst of first pulls would open many).
func (c *stmtCache) readStmt(text string) *sql.Stmt {
	if c == nil || uncachedReads.Load() {
		return nil
	}
	st := c.get(text)
	if st == nil {
		c.learn([]string{text})
	}
	return st
}

// named is a statement with dbx's {:name} placeholders made ? and the
// names in their order, so that it runs on database/sql directly: dbx
// rewrites a text with regular expressions on every query.
type named struct {
	text  string
	names []string
}

var (
	namedMu     gosync.Mutex
	namedTexts  = map[string]named{} // the pull's and push's texts: a few dozen
	placeholder = regexp.MustCompile(`\{:(\w+)\}`)
)

// compile returns text's named statement (made once per text).
func compile(text string) named {
	namedMu.Lock()
	defer namedMu.Unlock()
	if n, ok := namedTexts[text]; ok {
		return n
	}
	var n named
	n.text = placeholder.ReplaceAllStringFunc(text, func(m string) string {
		n.names = append(n.names, m[2:len(m)-1])
		return "?"
	})
	if len(namedTexts) < 4*maxCachedStmts {
		namedTexts[text] = n
	}
	return n
}

// args are params in the order of n's placeholders.
func (n named) args(params dbx.Params) ([]any, error) {
	args := make([]any, len(n.names))
	for i, name := range n.names {
		v, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("no value for {:%s} in %.60s", name, n.text)
		}
		args[i] = v
	}
	return args, nil
}

// queryIn runs text with params in tx, through c's statement of it when c
// has one.
func queryIn(ctx context.Context, tx *sql.Tx, c *stmtCache, text string, params dbx.Params) (*sql.Rows, error) {
	n := compile(text)
	args, err := n.args(params)
	if err != nil {
		return nil, err
	}
	st := c.readStmt(n.text)
	if st == nil {
		return tx.QueryContext(ctx, n.text, args...)
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func (c *stmtCache) get(text string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[text]
}

// learn prepares, in the background, the texts the cache lacks and no
// other learn is preparing: after a schema change, many pushes in a burst
// miss the same statements, and one of them teaches the cache.
func (c *stmtCache) learn(texts []string) {
	c.mu.Lock()
	var mine []string
	for _, text := range texts {
		if _, known := c.stmts[text]; !known && !c.learning[text] {
			c.learning[text] = true
			mine = append(mine, text)
		}
	}
	c.mu.Unlock()
	if len(mine) == 0 {
		return
	}
	go func() {
		_ = c.prepare(context.Background(), mine) // a text that fails stays unlearnt: pushes prepare it themselves
		c.mu.Lock()
		for _, text := range mine {
			delete(c.learning, text)
		}
		c.mu.Unlock()
	}()
}

// prepare adds the statements of texts the cache lacks, each on the
// database (it waits for the writer connection between two of them).
func (c *stmtCache) prepare(ctx context.Context, texts []string) error {
	for _, text := range texts {
		c.mu.Lock()
		_, known := c.stmts[text]
		full := len(c.stmts) >= maxCachedStmts
		c.mu.Unlock()
		if known || full {
			continue
		}
		st, err := c.db.PrepareContext(ctx, text)
		if err != nil {
			return fmt.Errorf("prepare %.60s: %w", text, err)
		}
		c.mu.Lock()
		if _, known := c.stmts[text]; known {
			st.Close()
		} else {
			c.stmts[text] = st
		}
		c.mu.Unlock()
	}
	return nil
}

// Warm prepares, on app's database, the statements a push uses besides
// the updates of its devices' edits: loading, inserting and deleting the
// records of each synced table, loading what they link to, finding,
// deleting and unlinking what links to them, reading their history,
// logging conflicts. Call it when the server starts; pushes work without
// it, each first push of a kind then preparing its own.
func Warm(ctx context.Context, app core.App) error {
	cache := statements(app)
	if cache == nil {
		return nil
	}
	texts := append([]string{historyQuery, lineTotalsQuery}, namedQueries()...)
	seen := map[string]bool{}
	add := func(c *core.Collection, write bool) {
		if seen[c.Name] && !write {
			return
		}
		cols := sortedColumns(c)
		if !seen[c.Name] {
			texts = append(texts, loadQuery(c.Name, cols))
			seen[c.Name] = true
		}
		if write {
			texts = append(texts, insertQuery(c.Name, cols), deleteQuery(c.Name))
		}
	}
	names := []string{crm.SyncConflicts}
	for _, t := range Tables {
		names = append(names, t.Name)
	}
	for _, name := range names {
		c, err := app.FindCachedCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		add(c, true)
		for _, f := range c.Fields {
			if rel, ok := f.(*core.RelationField); ok {
				target, err := app.FindCachedCollectionByNameOrId(rel.CollectionId)
				if err != nil {
					return err
				}
				add(target, false)
			}
		}
		refs, err := app.FindCachedCollectionReferences(c)
		if err != nil {
			return err
		}
		for ref, fields := range refs {
			if ref.IsView() {
				continue
			}
			add(ref, false)
			texts = append(texts, deleteQuery(ref.Name))
			for _, f := range fields {
				texts = append(texts, refsQuery(ref.Name, f.GetName()))
				if rel, ok := f.(*core.RelationField); ok && !rel.CascadeDelete && !rel.Required {
					texts = append(texts, updateQuery(ref.Name, unlinkColumns(ref, rel.Name)))
				}
			}
		}
	}
	return cache.prepare(ctx, texts)
}

// The texts of the push's other statements, which it runs with dbx's
// placeholders through store.row and store.execNamed.
var (
	setWriterQuery   = "INSERT OR REPLACE INTO " + writerTable + " (id, device, user) VALUES (1, {:d}, {:u})"
	clearWriterQuery = "DELETE FROM " + writerTable
	roleQuery        = "SELECT role FROM users WHERE id = {:u}"
	teamQuery        = "SELECT " + policy.TeamSQL("{:u}")
	touchQuery       = "INSERT INTO " + ChangesTable + " (tbl, record_id, op, customer, owner, cols, device, at) VALUES ({:t}, {:id}, 'u', {:c}, " +
		ownerOf("{:c}") + ", '', {:d}, {:at})"
	leftQuery = `SELECT seq, at, stamp FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner_from
		WHERE owner_from = {:rep} AND owner_from != '' AND tbl = 'customers' AND record_id = {:c} AND op = 'o' ORDER BY seq DESC LIMIT 1`
	firstChangeQuery = `SELECT seq, device FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_record
		WHERE tbl = {:t} AND record_id = {:id} ORDER BY seq LIMIT 1`
	baseTimeQuery = "SELECT at, stamp FROM " + ChangesTable + " WHERE seq <= {:s} ORDER BY seq DESC LIMIT 1"
)

// namedQueries are the push's statements with placeholders, for Warm.
func namedQueries() []string {
	var texts []string
	for _, text := range []string{setWriterQuery, clearWriterQuery, roleQuery, teamQuery, touchQuery, leftQuery,
		firstChangeQuery, baseTimeQuery, unpulledQuery, removalsQuery, crm.LastVisitQuery} {
		texts = append(texts, compile(text).text)
	}
	return texts
}

// unlinkColumns are the columns the push writes when it empties the link
// field of a record of c (see store.update): the field and the stamps.
func unlinkColumns(c *core.Collection, field string) []string {
	cols := []string{field}
	for _, f := range c.Fields {
		if a, ok := f.(*core.AutodateField); ok && a.OnUpdate {
			cols = append(cols, a.Name)
		}
	}
	slices.Sort(cols)
	return cols
}

// The texts of the push's statements (the cache finds them by text).

func loadQuery(table string, cols []string) string {
	return fmt.Sprintf(`SELECT %s FROM "%s" WHERE id IN (SELECT value FROM json_each(?))`, strings.Join(quoteCols(cols), ","), table)
}

func insertQuery(table string, cols []string) string {
	return fmt.Sprintf(`INSERT OR FAIL INTO "%s" (%s) VALUES (%s)`, table, strings.Join(quoteCols(cols), ","),
		strings.TrimSuffix(strings.Repeat("?,", len(cols)), ","))
}

func updateQuery(table string, cols []string) string {
	sets := make([]string, len(cols))
	for i, col := range quoteCols(cols) {
		sets[i] = col + " = ?"
	}
	return fmt.Sprintf(`UPDATE OR FAIL "%s" SET %s WHERE id = ?`, table, strings.Join(sets, ", "))
}

func deleteQuery(table string) string { return fmt.Sprintf(`DELETE FROM "%s" WHERE id = ?`, table) }

func refsQuery(table, field string) string {
	return fmt.Sprintf(`SELECT id FROM "%s" WHERE "%s" = ?`, table, field)
}

const lineTotalsQuery = `SELECT line_total FROM order_lines WHERE "order" = ?`

// historyQuery reads what the change log knows of the records a push
// names (see pusher.history), in two parts that each read only what they
// report: the changes since the base by another writer, a range of the
// record index (arguments: table, all ids as JSON, base, writer); and the
// deletions of the records the table no longer holds (table, their ids).
// One query asking both at once, (op = 'd' OR seq > base), read every
// record's whole history, which grows with each edit.
const historyQuery = "SELECT record_id, op, cols, at, stamp, 1 FROM " + ChangesTable +
	" INDEXED BY _rounds_changes_record WHERE tbl = ? AND record_id IN (SELECT value FROM json_each(?)) AND seq > ? AND device != ?" +
	" UNION ALL SELECT record_id, op, '', 0, '', 0 FROM " + ChangesTable +
	" INDEXED BY _rounds_changes_record WHERE tbl = ? AND record_id IN (SELECT value FROM json_each(?)) AND op = 'd'"
