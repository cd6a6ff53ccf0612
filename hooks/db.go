package hooks

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	gosync "sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// pragmas are PocketBase's (core.DefaultDBConnect, v0.40) plus
// wal_autocheckpoint (see registerCheckpoints), and transactions that
// take the write lock when they begin (_txlock=immediate; read-only ones,
// such as the pull's snapshot, begin as before);
// TestDBConnectKeepsPocketBasePragmas checks that they stay in step.
// Connections do not map the file (mmap_size 0, as PocketBase's), except
// during a first pull (sync.FirstPullMmapBytes says why).
//
// PocketBase's one write connection is not the only writer when Litestream
// replicates: it writes from its own connection. A transaction that began
// by reading and then wrote after Litestream had committed failed at once
// with SQLITE_BUSY, which no busy timeout waits out (its snapshot is
// stale): one push in six failed with a 500 under a steady stream of
// pushes (TestPushesSucceedWhileReplicating). One that takes the lock first
// waits its turn instead.
var pragmas = "?_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMs) + ")&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
	"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)" +
	"&_pragma=wal_autocheckpoint(10000)&_defensive=1&_txlock=immediate"

// busyTimeoutMs is how long a connection waits for a lock before it gives
// up (PocketBase's setting).
const busyTimeoutMs = 10000

// DBConnect opens Rounds' SQLite databases: PocketBase's settings, with
// checkpoints left to the server's checkpointer. It is
// core.BaseAppConfig's DBConnect.
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
		if limit := pool.Stats().MaxOpenConnections; limit > 0 { // 0: unlimited, where 0 idle would mean 2
			pool.SetMaxIdleConns(limit)
			pool.SetConnMaxIdleTime(ReadConnIdleTime)
		}
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

// CheckpointEvery is how often the server copies the write-ahead log back
// into the database files.
const CheckpointEvery = time.Second

// registerCheckpoints moves WAL checkpoints off the commit path while the
// server runs.
//
// By default the commit that grows the WAL past 1,000 pages copies it back
// into the database file and syncs it, while holding SQLite's single write
// lock: under a burst of pushes every twentieth push waited for that, and
// all pushes queued behind it. The server instead checkpoints every
// CheckpointEvery, in two steps (see checkpoint). A commit still
// checkpoints by itself if the WAL reaches 10,000 pages (about 40 MB),
// which only a burst the checkpointer cannot keep up with reaches, and
// which the commands (migrate, seed) rely on.
//
// With replication on, Litestream holds a read transaction open between
// its syncs and starts the WAL over itself; the second step would only
// wait its 20 ms for Litestream every round, holding the writer, so it is
// left out (restart false).
func registerCheckpoints(app core.App, pushes *pushQueue, restart bool) {
	t := newTicker(CheckpointEvery, func() { checkpoint(app, pushes, restart) })
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		t.start()
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		t.stop()
		return e.Next()
	})
}

// checkpoint copies what it can of both databases' WALs into their files,
// and has the main database's WAL start over.
//
// The first step runs beside the writer (PASSIVE, from a read connection),
// so it copies the bulk without making anyone wait. But with pushes
// committing every few milliseconds it never copies the last frames, and
// SQLite starts the WAL over only after a checkpoint has copied every
// frame and no reader still uses them. Before, that happened in the
// commit that grew the WAL past 10,000 pages: at 150 syncs a second one
// push in about 140 took 50-80 ms, mostly syncing the file, and the pushes
// behind it waited: that set the push p99 (BENCHMARKS.md).
//
// The second step (restartWAL) takes its turn among the pushes and runs
// on the write connection, so no commit comes between: it copies the
// frames the first step left, then waits at most restartWaitMs for the
// readers still using the old frames, so that the next write starts the
// WAL from the beginning. If a reader takes longer (a large export), the
// next round tries again; the 10,000-page commit checkpoint stays the
// backstop.
//
// Every push waits while the second step holds the writer, so the first
// step leaves it as little as it can: it copies and syncs again while a
// pass still had much to copy (catchUp). At 100 syncs a second a pass of
// the first step took 130-150 ms with its sync, the pushes meanwhile wrote
// about a thousand frames, and the second step held the writer 28-67 ms
// every second copying and syncing them: the push p99 (BENCHMARKS.md).
func checkpoint(app core.App, pushes *pushQueue, restart bool) {
	// passive answers how many of the WAL's frames it copied back into
	// the database file (in all, not only in this pass)
	passive := func(db dbx.Builder) (copied int, err error) {
		var busy, frames int
		err = db.NewQuery("PRAGMA wal_checkpoint(PASSIVE)").Row(&busy, &frames, &copied)
		return copied, err
	}
	if _, err := passive(app.AuxConcurrentDB()); err != nil {
		app.Logger().Warn("WAL checkpoint failed", "db", "auxiliary", "error", err)
	}
	if !restart {
		if _, err := passive(app.ConcurrentDB()); err != nil {
			app.Logger().Warn("WAL checkpoint failed", "db", "data", "error", err)
		}
		return
	}
	// A PASSIVE checkpoint that did not copy every frame leaves the pages it
	// wrote to the operating system; the step that completes syncs them.
	// Syncing them here, beside the writer, leaves the second step only the
	// pages it writes itself. (When every read connection mapped the file,
	// the kernel's writeback visited each mapping of each page: 28 MB took
	// 40 ms of CPU.)
	err := catchUp(func() (int, error) {
		copied, err := passive(app.ConcurrentDB())
		if err == nil {
			if f, err := os.Open(filepath.Join(app.DataDir(), "data.db")); err == nil {
				_ = f.Sync()
				f.Close()
			}
		}
		return copied, err
	})
	if err != nil {
		app.Logger().Warn("WAL checkpoint failed", "db", "data", "error", err)
	}
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return
	}
	release, err := pushes.enter(context.Background(), serverTurn)
	if err != nil {
		return // pushes are being turned away: the next round
	}
	defer release()
	if err := restartWAL(db.DB()); err != nil {
		app.Logger().Warn("WAL checkpoint failed", "db", "data", "error", err)
	}
}

// The first checkpoint step passes again while its last pass copied at
// least catchUpFrames frames (4 MB of pages: the writes of a few pushes),
// at most catchUpPasses times in all.
const (
	catchUpFrames = 1024
	catchUpPasses = 4
)

// catchUp runs pass (a PASSIVE checkpoint of the WAL, and the file's sync)
// until a pass copies fewer than catchUpFrames frames, or catchUpPasses
// have run. pass answers how many frames of the WAL are in the file, as
// PRAGMA wal_checkpoint does (its count of the WAL's frames is the one it
// began with, so it cannot tell what was written meanwhile). Each pass
// copies what the pushes wrote during the one before, which takes less
// time, so the frames left to the second step shrink with every pass.
func catchUp(pass func() (copied int, err error)) error {
	before := 0
	for range catchUpPasses {
		copied, err := pass()
		if err != nil {
			return err
		}
		if copied-before < catchUpFrames {
			return nil
		}
		before = copied
	}
	return nil
}

// restartWaitMs is how long the second checkpoint step waits for readers.
const restartWaitMs = 20

// restartPoll is how often the second step looks again whether the readers
// that held it back are done. SQLite's own busy handler sleeps 1, 2, 5 and
// then 10 ms between looks, so a reader that finished after 3.1 ms held
// the writer, and every push behind it, until 8 ms.
const restartPoll = 200 * time.Microsecond

// restartWAL copies the rest of the WAL on one of db's connections (the
// writer's) and waits up to restartWaitMs for older readers to finish.
func restartWAL(db *sql.DB) error {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// the wait is the loop's, in short steps: SQLite's busy handler would
	// sleep in long ones
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return err
	}
	deadline := time.Now().Add(restartWaitMs * time.Millisecond)
	for {
		var busy, frames, copied int
		// blocked by a reader, RESTART copies what it can and answers busy
		err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied)
		if err != nil || busy == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(restartPoll)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMs)); err != nil {
		// never hand the writer back with the short wait
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return err
	}
	return err
}

// ticker runs fn every interval in the background from start, and once
// more when stopped.
type ticker struct {
	every time.Duration
	fn    func()
	done  chan struct{}
	once  gosync.Once
	wg    gosync.WaitGroup
}

func newTicker(every time.Duration, fn func()) *ticker {
	return &ticker{every: every, fn: fn, done: make(chan struct{})}
}

func (t *ticker) start() {
	t.once.Do(func() {
		t.wg.Go(func() {
			tick := time.NewTicker(t.every)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					t.fn()
				case <-t.done:
					t.fn()
					return
				}
			}
		})
	})
}

// stop ends the ticker after a last run; it is safe to call more than once.
func (t *ticker) stop() {
	select {
	case <-t.done:
	default:
		close(t.done)
	}
	t.wg.Wait()
}
