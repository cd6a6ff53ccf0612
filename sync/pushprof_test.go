package sync_test

import (
	"context"
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	rsync "rounds/sync"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestPushProfile(t *testing.T) {
	app := seeded(t, sizes(2, 200))
	rep, _ := repOf(t, app, 1)
	var top int64
	app.DB().NewQuery("SELECT MAX(seq) FROM _rounds_changes").Row(&top)
	for round := 0; round < 3; round++ {
		changes, _ := mutations(t, app, rep.Id, 1000, round)
		f, _ := os.Create("/tmp/pushonly.prof")
		pprof.StartCPUProfile(f)
		start, c0 := time.Now(), cpuTime()
		res, err := rsync.Push(context.Background(), app, rsync.PushRequest{Rep: rep.Id, LastPulledAt: top, Changes: changes, Now: time.Now()})
		d, cpu := time.Since(start), cpuTime()-c0
		pprof.StopCPUProfile()
		f.Close()
		if err != nil || len(res.Rejected) > 0 {
			t.Fatal(err, res.Rejected)
		}
		t.Logf("push: wall %v cpu %v", d, cpu)
	}
}
