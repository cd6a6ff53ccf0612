package hooks

import (
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// MmapBytes is how much of the database file each connection reads through
// memory mapping (SQLite's mmap_size) instead of read calls.
//
// In WAL mode a connection drops its page cache whenever another one has
// committed since its last read, which on a syncing server is nearly
// always: without mapping, every pull allocated and filled a fresh buffer
// for every page it touched. Mapped pages come straight from the operating
// system's cache, shared by all connections. Pages still in the WAL are
// read as before. The size bounds address space, not memory.
const MmapBytes = 1 << 30

// pragmas are PocketBase's (core.DefaultDBConnect, v0.40) plus mmap_size;
// TestDBConnectKeepsPocketBasePragmas checks that they stay in step.
const pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
	"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)" +
	"&_pragma=mmap_size(1073741824)&_defensive=1"

// DBConnect opens Rounds' SQLite databases: PocketBase's settings, with
// memory-mapped reads (MmapBytes). It is core.BaseAppConfig's DBConnect.
func DBConnect(dbPath string) (*dbx.DB, error) {
	return dbx.Open("sqlite", dbPath+pragmas)
}

// ReadConnIdleTime is how long an unused read connection stays open.
const ReadConnIdleTime = 5 * time.Minute

// registerReadPool keeps the read connections a burst opened until they
// have been idle for ReadConnIdleTime.
//
// PocketBase allows 120 read connections but keeps only 15 open between
// queries. When many phones sync at once, each connection past the 15th is
// closed as soon as its query ends, and the next request opens a new one.
// A new SQLite connection parses the whole schema before its first query.
// Idle connections cost memory only for the pages they cached, and go
// after a quiet spell.
func registerReadPool(app core.App) {
	tune := func(app core.App) {
		db, ok := app.ConcurrentDB().(*dbx.DB)
		if !ok {
			return
		}
		pool := db.DB()
		pool.SetMaxIdleConns(pool.Stats().MaxOpenConnections)
		pool.SetConnMaxIdleTime(ReadConnIdleTime)
	}
	if app.IsBootstrapped() {
		tune(app)
	}
	// bootstrap (again, after a backup restore) opens new pools
	app.OnBootstrap().BindFunc(func(e *core.BootstrapEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		tune(e.App)
		return nil
	})
}
