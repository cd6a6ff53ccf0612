package sync_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rsync "rounds/sync"
)

// mapsWatcher records whether the database file is mapped into this
// process (/proc/self/maps) at any write of a pull's answer.
type mapsWatcher struct {
	t      *testing.T
	file   string
	mapped bool
	out    strings.Builder
}

func (w *mapsWatcher) Write(p []byte) (int, error) {
	w.mapped = w.mapped || fileMapped(w.t, w.file)
	return w.out.Write(p)
}

func fileMapped(t *testing.T, file string) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps here:", err)
	}
	for line := range strings.Lines(string(maps)) {
		if strings.HasSuffix(strings.TrimSpace(line), " "+file) { // not its -shm, which WAL mode always maps
			return true
		}
	}
	return false
}

// TestOnlyAFirstPullMapsTheFile: a first pull reads the database through
// memory mapping and hands its connection back unmapped; an incremental
// pull does not map it. A mapped connection unmaps the whole file at every
// read that starts after a commit, which under load cost more CPU than
// the syncs themselves (BENCHMARKS.md).
func TestOnlyAFirstPullMapsTheFile(t *testing.T) {
	app := seeded(t, sizes(2, 20))
	rep, _ := repOf(t, app, 1)
	file := filepath.Join(app.DataDir(), "data.db")
	pull := func(since *int64) (*mapsWatcher, int64) {
		w := &mapsWatcher{t: t, file: file}
		if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id, LastPulledAt: since, SchemaVersion: rsync.SchemaVersion}, w); err != nil {
			t.Fatal(err)
		}
		var res struct{ Timestamp int64 }
		if err := json.Unmarshal([]byte(w.out.String()), &res); err != nil {
			t.Fatal(err)
		}
		return w, res.Timestamp
	}
	first, cursor := pull(nil)
	if !first.mapped {
		t.Error("a first pull read the database without mapping it")
	}
	if fileMapped(t, file) {
		t.Error("the file is still mapped after the first pull: its connection went back to the pool mapped")
	}
	// the pool's connections (the first pull's among them) read unmapped
	for range 4 {
		var n int64
		if err := app.ConcurrentDB().NewQuery("PRAGMA mmap_size").Row(&n); err != nil || n != 0 {
			t.Fatalf("a pooled connection's mmap_size: %d (%v), want 0", n, err)
		}
	}
	if next, _ := pull(&cursor); next.mapped {
		t.Error("an incremental pull mapped the database")
	}
}
