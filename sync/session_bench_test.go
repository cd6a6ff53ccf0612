package sync_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	"rounds/hooks"
	rsync "rounds/sync"
)

// sessionRep is a rep syncing in BenchmarkSyncSession: its token, its
// customers and visits, and its cursor.
type sessionRep struct {
	token     string
	customers []string
	visits    []string
	cursor    int64
}

// BenchmarkSyncSession: syncs as phones make them — a pull, a push of 15
// visits (5 new, 10 edited), a pull — over keep-alive HTTP on 127.0.0.1
// through PocketBase's router (token check, request log and all), one after
// another, each by a rep drawn from a seed, in a seeded company of about
// 58 thousand records. cpu-ms/sync is the CPU time of the whole process per
// sync: the server, its background work, and this client (a small part:
// encoding a push and reading two replies). Each variant in the list
// (sessionVariants) runs in the same run against the same company, so
// their ratio is the figure to trust.
func BenchmarkSyncSession(b *testing.B) {
	app := seeded(b, sizes(50, 850))
	mux := newLoopback(b, app)
	rng := rand.New(rand.NewPCG(26, 1))
	var reps []*sessionRep
	for n := 1; n <= 50; n++ {
		rep, token := repOf(b, app, n)
		r := &sessionRep{token: token}
		if err := app.DB().NewQuery("SELECT id FROM customers WHERE owner = {:r} ORDER BY id").Bind(dbx.Params{"r": rep.Id}).Column(&r.customers); err != nil {
			b.Fatal(err)
		}
		if err := app.DB().NewQuery("SELECT v.id FROM visits v JOIN customers c ON c.id = v.customer WHERE c.owner = {:r} ORDER BY v.id").Bind(dbx.Params{"r": rep.Id}).Column(&r.visits); err != nil {
			b.Fatal(err)
		}
		if len(r.customers) == 0 || len(r.visits) < 10 {
			continue
		}
		var first struct{ Timestamp int64 }
		if code := mux.do(token, "GET", "/api/sync/pull?schema_version="+fmt.Sprint(rsync.SchemaVersion)+"&last_pulled_at=null", nil, &first); code != 200 {
			b.Fatalf("first pull: %d", code)
		}
		r.cursor = first.Timestamp
		reps = append(reps, r)
	}
	if len(reps) < 10 {
		b.Fatalf("only %d reps with customers and visits", len(reps))
	}
	records := countRecords(app)
	seq := 0
	sync := func(b testing.TB, r *sessionRep) {
		pull := func() {
			var res struct{ Timestamp int64 }
			if code := mux.do(r.token, "GET", fmt.Sprintf("/api/sync/pull?schema_version=%d&last_pulled_at=%d", rsync.SchemaVersion, r.cursor), nil, &res); code != 200 {
				b.Fatalf("pull: %d", code)
			}
			r.cursor = res.Timestamp
		}
		pull()
		seq++
		created, updated := []rsync.Raw{}, []rsync.Raw{}
		for i := range 5 {
			created = append(created, rsync.Raw{"id": fmt.Sprintf("sess%09d%02d", seq, i), "customer": r.customers[rng.IntN(len(r.customers))],
				"purpose": "session benchmark", "_status": "created", "_changed": ""})
		}
		for _, i := range rng.Perm(len(r.visits))[:10] {
			updated = append(updated, rsync.Raw{"id": r.visits[i], "outcome": fmt.Sprintf("session %d", seq), "_status": "updated", "_changed": "outcome"})
		}
		body, _ := json.Marshal(rsync.Changes{crm.Visits: {Created: created, Updated: updated, Deleted: []string{}}})
		var res rsync.PushResult
		if code := mux.do(r.token, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", r.cursor), body, &res); code != 200 || len(res.Rejected) > 0 {
			b.Fatalf("push: %d, rejected %v", code, res.Rejected)
		}
		pull()
	}
	// the variants take turns, so that a slower spell of a shared machine
	// and the company's growth fall on each alike
	for round := 1; round <= 3; round++ {
		for _, v := range sessionVariants {
			b.Run(fmt.Sprintf("%s/round=%d", v.name, round), func(b *testing.B) {
				defer v.set()()
				for range 20 { // the variant's caches warm, as a running server's are
					sync(b, reps[rng.IntN(len(reps))])
				}
				cpu0 := processCPU()
				start := time.Now()
				for b.Loop() {
					sync(b, reps[rng.IntN(len(reps))])
				}
				cpu := processCPU() - cpu0
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/sync")
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "wall-ms/sync")
				b.ReportMetric(float64(records), "records")
			})
		}
	}
}

// sessionVariants are what BenchmarkSyncSession compares: the server as it
// is, and with the savings of issue 26's second round off.
var sessionVariants = []struct {
	name string
	set  func() (restore func())
}{
	{"now", func() func() { return func() {} }},
	{"tokens-checked-in-the-database", func() func() { return hooks.SetTokenCacheForBenchmark(false) }},
	{"statements-prepared-per-query", func() func() { return rsync.SetReadCacheForTest(false) }},
	{"both-as-before", func() func() {
		a, b := hooks.SetTokenCacheForBenchmark(false), rsync.SetReadCacheForTest(false)
		return func() { a(); b() }
	}},
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
