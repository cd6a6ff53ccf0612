package hooks_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/hooks"
	"rounds/internal/testapp"
)

// Rounds opens SQLite with PocketBase's settings, its own checkpoints
// aside; a PocketBase upgrade that changes its settings fails here until
// ours follow. Connections do not map the file (a first pull does, for
// itself: sync.FirstPullMmapBytes).
func TestDBConnectKeepsPocketBasePragmas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	read := func(connect core.DBConnectFunc, file string) map[string]string {
		db, err := connect(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		out := map[string]string{}
		for _, p := range []string{"busy_timeout", "journal_mode", "journal_size_limit", "synchronous",
			"foreign_keys", "temp_store", "cache_size", "mmap_size", "wal_autocheckpoint"} {
			var v string
			if err := db.NewQuery("PRAGMA " + p).Row(&v); err != nil {
				t.Fatalf("PRAGMA %s: %v", p, err)
			}
			out[p] = v
		}
		// defensive mode: the schema cannot be written directly
		_, _ = db.NewQuery("PRAGMA writable_schema = ON").Execute()
		_, err = db.NewQuery("DELETE FROM sqlite_schema WHERE name = 'nothing'").Execute()
		out["defensive"] = map[bool]string{true: "on", false: "off"}[err != nil]
		return out
	}
	pb, ours := read(core.DefaultDBConnect, "pocketbase.db"), read(hooks.DBConnect, "rounds.db")
	if ours["wal_autocheckpoint"] != "10000" || pb["wal_autocheckpoint"] != "1000" {
		t.Errorf("wal_autocheckpoint: ours %s, PocketBase's %s", ours["wal_autocheckpoint"], pb["wal_autocheckpoint"])
	}
	delete(ours, "wal_autocheckpoint")
	delete(pb, "wal_autocheckpoint")
	for k, v := range pb {
		if ours[k] != v {
			t.Errorf("%s: ours %q, PocketBase's %q", k, ours[k], v)
		}
	}
}

// A burst of concurrent reads leaves its connections open for the next
// one: none is closed for being one idle connection too many.
func TestReadPoolKeepsBurstConnections(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	pool := app.ConcurrentDB().(*dbx.DB).DB()
	const burst = 40
	var started, release gosync.WaitGroup
	started.Add(burst)
	release.Add(1)
	var wg gosync.WaitGroup
	for range burst {
		wg.Go(func() {
			tx, err := pool.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Error(err)
				started.Done()
				return
			}
			var n int
			_ = tx.QueryRow("SELECT COUNT(*) FROM customers").Scan(&n)
			started.Done()
			release.Wait() // hold the connection until all are open
			_ = tx.Rollback()
		})
	}
	started.Wait()
	release.Done()
	wg.Wait()
	stats := pool.Stats()
	if stats.MaxIdleClosed > 0 || stats.Idle < burst {
		t.Fatalf("after a burst of %d reads: %d idle, %d closed as surplus", burst, stats.Idle, stats.MaxIdleClosed)
	}
}

// While the server runs, committed pages reach the database file within
// about a second, without a commit checkpointing them (a commit would only
// at 10,000 pages).
func TestServerCheckpointsTheWAL(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	inFile := func(marker string) bool { // the database file alone, not its WAL
		data, err := os.ReadFile(filepath.Join(app.DataDir(), "data.db"))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(data, []byte(marker))
	}
	mark := func(marker string) {
		if _, err := app.NonconcurrentDB().NewQuery("UPDATE customers SET notes = {:m} WHERE id = {:id}").
			Bind(dbx.Params{"m": marker, "id": testapp.CustomerA}).Execute(); err != nil {
			t.Fatal(err)
		}
	}

	mark("before serving")
	time.Sleep(2 * hooks.CheckpointEvery)
	if inFile("before serving") {
		t.Fatal("a commit checkpointed the WAL by itself")
	}
	testapp.NewClient(t, app) // serving starts the checkpointer
	mark("while serving")
	deadline := time.Now().Add(20 * hooks.CheckpointEvery)
	for !inFile("while serving") {
		if time.Now().After(deadline) {
			t.Fatalf("the database file lacks a commit %s later", 20*hooks.CheckpointEvery)
		}
		time.Sleep(hooks.CheckpointEvery / 4)
	}
}

// While a writer commits without pause and readers keep reading (a busy
// sync server), the server's checkpointer still has the WAL start over,
// again and again; a checkpoint running beside the writer alone never sees
// every frame copied, and the WAL would grow until a commit checkpoints it
// by itself at 10,000 pages, stalling every push behind it.
func TestWALStartsOverUnderLoad(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	// the checkpointer alone: no commit checkpoints by itself (the backstop
	// at 10,000 pages would start the WAL over too)
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA wal_autocheckpoint = 0").Execute(); err != nil {
		t.Fatal(err)
	}
	testapp.NewClient(t, app) // serving starts the checkpointer
	walSeq := func() uint32 { // the WAL header's checkpoint sequence: one more each time it starts over
		f, err := os.Open(filepath.Join(app.DataDir(), "data.db-wal"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var h [16]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint32(h[12:])
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg gosync.WaitGroup
	var commits atomic.Int64
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := app.NonconcurrentDB().NewQuery("UPDATE customers SET notes = {:n} WHERE id = {:id}").
				Bind(dbx.Params{"n": strconv.Itoa(i), "id": testapp.CustomerA}).Execute(); err != nil {
				t.Error(err)
				return
			}
			commits.Add(1)
		}
	})
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				var n int
				_ = app.ConcurrentDB().NewQuery("SELECT COUNT(*) FROM visits").Row(&n)
			}
		})
	}
	first := walSeq()
	deadline := time.Now().Add(30 * hooks.CheckpointEvery)
	for walSeq()-first < 3 && time.Now().Before(deadline) {
		time.Sleep(hooks.CheckpointEvery / 4)
	}
	stop()
	wg.Wait()
	if n := walSeq() - first; n < 3 {
		t.Fatalf("the WAL started over %d times during %d commits in %s; want at least 3", n, commits.Load(), 30*hooks.CheckpointEvery)
	}
}

// SQLite takes its cached pages from the pool the hooks package sets up
// before the process's first connection (hooks.PagePoolBytes says why),
// not from malloc: with the pool left out, or cut too small for a page,
// this fails. The package's other tests open SQLite their own ways in
// parallel with it (PocketBase's DBConnect among them), as a tool might.
func TestSQLiteCachesPagesInThePool(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	slots, err := hooks.PagePoolForTest()
	if err != nil {
		t.Fatal(err)
	}
	// a slot is a page and SQLite's headers for it (272 bytes in SQLite 3.53)
	if slots*hooks.PageSize > hooks.PagePoolBytes || slots*(hooks.PageSize+512) < hooks.PagePoolBytes {
		t.Fatalf("the pool holds %d pages; %d MB of %d-byte pages with their headers is %d-%d",
			slots, hooks.PagePoolBytes>>20, hooks.PageSize,
			hooks.PagePoolBytes/(hooks.PageSize+512), hooks.PagePoolBytes/hooks.PageSize)
	}
	var n int
	for _, db := range []dbx.Builder{app.NonconcurrentDB(), app.ConcurrentDB()} {
		if err := db.NewQuery("SELECT count(*) FROM sqlite_master, _collections").Row(&n); err != nil {
			t.Fatal(err)
		}
	}
	if _, usedMax, _, _ := hooks.PagePoolStatusForTest(); usedMax == 0 {
		t.Fatal("SQLite read pages, and none came from the pool")
	}
}
