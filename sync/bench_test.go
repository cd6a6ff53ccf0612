package sync_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/seed"
	rsync "rounds/sync"
)

// seeded returns an app holding a seeded company, hooks registered.
func seeded(tb testing.TB, opts seed.Options) *tests.TestApp {
	tb.Helper()
	opts.Today = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	return testapp.Seeded(tb, opts)
}

func sizes(reps, customers int) seed.Options {
	o := seed.DefaultOptions()
	o.Managers, o.Reps, o.Customers = 1, reps, customers
	return o
}

// countRecords is how many records app's company holds.
func countRecords(app core.App) int {
	var total int
	for _, t := range crm.Collections {
		n, _ := app.CountRecords(t)
		total += int(n)
	}
	return total
}

// repOf returns the first rep and an auth token for it.
func repOf(tb testing.TB, app core.App, n int) (*core.Record, string) {
	tb.Helper()
	rep, err := app.FindAuthRecordByEmail(crm.Users, seed.RepEmail(n))
	if err != nil {
		tb.Fatal(err)
	}
	token, err := rep.NewAuthToken()
	if err != nil {
		tb.Fatal(err)
	}
	return rep, token
}

// iteration holds the servers and apps of one benchmark iteration and
// closes them when it is done, so that each iteration measures a process
// serving one app, as in production, not one where the apps of earlier
// iterations still run their background work and fill the heap.
type iteration struct {
	testing.TB
	cleanups []func()
}

func (it *iteration) Cleanup(f func()) { it.cleanups = append(it.cleanups, f) }

func (it *iteration) done() {
	for i := len(it.cleanups) - 1; i >= 0; i-- {
		it.cleanups[i]()
	}
	it.cleanups = nil
}

// loopback is a keep-alive HTTP client for a test server on 127.0.0.1.
type loopback struct {
	tb     testing.TB
	base   string
	client *http.Client
}

func newLoopback(tb testing.TB, app *tests.TestApp) loopback {
	return loopback{tb: tb, base: serve(tb, app).URL, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (c loopback) do(token, method, url string, body []byte, out any) int {
	req, err := http.NewRequest(method, c.base+url, bytesReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	res, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.tb.Fatal(err)
		}
	}
	return res.StatusCode
}

// mutations builds n mixed mutations for rep: half creates of visits and
// contacts, four tenths updates of existing visits, a tenth deletes.
func mutations(tb testing.TB, app core.App, rep string, n, round int) (changes rsync.Changes, restOps []restOp) {
	tb.Helper()
	var customers, visits []string
	if err := app.DB().NewQuery("SELECT id FROM customers WHERE owner = {:r} ORDER BY id").Bind(dbx.Params{"r": rep}).Column(&customers); err != nil {
		tb.Fatal(err)
	}
	if err := app.DB().NewQuery("SELECT v.id FROM visits v JOIN customers c ON c.id = v.customer WHERE c.owner = {:r} ORDER BY v.id").Bind(dbx.Params{"r": rep}).Column(&visits); err != nil {
		tb.Fatal(err)
	}
	creates, updates, deletes := n/2, n*4/10, n/10
	if len(visits) < updates+deletes {
		tb.Fatalf("rep has %d visits, need %d", len(visits), updates+deletes)
	}
	changes = rsync.Changes{}
	vc := rsync.TableChanges{Created: []rsync.Raw{}, Updated: []rsync.Raw{}, Deleted: []string{}}
	cc := rsync.TableChanges{Created: []rsync.Raw{}, Updated: []rsync.Raw{}, Deleted: []string{}}
	now := float64(time.Now().UnixMilli())
	for i := 0; i < creates; i++ {
		customer := customers[i%len(customers)]
		if i%2 == 0 {
			r := rsync.Raw{"id": fmt.Sprintf("benchv%03d%07d", round, i), "customer": customer, "purpose": "benchmark", "check_in_lat": 52.5, "check_in_lng": 13.4, "checked_in_at": now, "_status": "created", "_changed": ""}
			vc.Created = append(vc.Created, r)
			restOps = append(restOps, restOp{"POST", "/api/collections/visits/records", map[string]any{
				"id": r["id"], "customer": customer, "purpose": "benchmark", "check_in_lat": 52.5, "check_in_lng": 13.4,
				"checked_in_at": time.UnixMilli(int64(now)).UTC().Format(time.RFC3339Nano)}})
		} else {
			r := rsync.Raw{"id": fmt.Sprintf("benchc%03d%07d", round, i), "customer": customer, "name": "Bench Person", "birthday": "05-17", "_status": "created", "_changed": ""}
			cc.Created = append(cc.Created, r)
			restOps = append(restOps, restOp{"POST", "/api/collections/contacts/records", map[string]any{
				"id": r["id"], "customer": customer, "name": "Bench Person", "birthday": "05-17"}})
		}
	}
	for i := 0; i < updates; i++ {
		id := visits[i]
		r := rsync.Raw{"id": id, "outcome": fmt.Sprintf("round %d outcome %d", round, i), "updated": now, "_status": "updated", "_changed": "outcome"}
		vc.Updated = append(vc.Updated, r)
		restOps = append(restOps, restOp{"PATCH", "/api/collections/visits/records/" + id, map[string]any{"outcome": r["outcome"]}})
	}
	for i := 0; i < deletes; i++ {
		id := visits[updates+i]
		vc.Deleted = append(vc.Deleted, id)
		restOps = append(restOps, restOp{"DELETE", "/api/collections/visits/records/" + id, nil})
	}
	changes[crm.Visits], changes[crm.Contacts] = vc, cc
	return changes, restOps
}

type restOp struct {
	method, url string
	body        any
}

// BenchmarkPush1000 pushes 1,000 mixed mutations in one sync push, and the
// same mutations as one PocketBase REST request per record, on twin
// databases in the same run, both over keep-alive HTTP on 127.0.0.1; it
// reports both times and their ratio.
func BenchmarkPush1000(b *testing.B) {
	var syncTotal, restTotal time.Duration
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		it := &iteration{TB: b}
		viaSync, viaREST := seeded(it, sizes(2, 200)), seeded(it, sizes(2, 200))
		rep, token := repOf(b, viaSync, 1)
		changes, _ := mutations(b, viaSync, rep.Id, 1000, i)
		body, _ := json.Marshal(changes)
		repR, tokenR := repOf(b, viaREST, 1)
		_, ops := mutations(b, viaREST, repR.Id, 1000, i)
		bodies := make([][]byte, len(ops)) // encoded before the clock, as the push body is
		for i, op := range ops {
			if op.body != nil {
				bodies[i], _ = json.Marshal(op.body)
			}
		}
		syncMux, restMux := newLoopback(it, viaSync), newLoopback(it, viaREST)
		var pulled struct{ Timestamp int64 }
		syncMux.do(token, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, &pulled)
		runtime.GC() // each measured phase starts from a collected heap
		b.StartTimer()

		start := time.Now()
		var res rsync.PushResult
		if code := syncMux.do(token, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", pulled.Timestamp), body, &res); code != 200 || len(res.Rejected) > 0 {
			b.Fatalf("push: %d, rejected %v", code, res.Rejected)
		}
		pushTook := time.Since(start)
		syncTotal += pushTook

		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		start = time.Now()
		for i, op := range ops {
			if code := restMux.do(tokenR, op.method, op.url, bodies[i], nil); code >= 300 {
				b.Fatalf("REST %s %s: %d", op.method, op.url, code)
			}
		}
		restTotal += time.Since(start)
		ratios = append(ratios, time.Since(start).Seconds()/pushTook.Seconds())
		b.StopTimer()
		it.done()
		b.StartTimer()
	}
	n := float64(b.N)
	slices.Sort(ratios)
	b.ReportMetric(float64(syncTotal.Milliseconds())/n, "push-ms")
	b.ReportMetric(float64(restTotal.Milliseconds())/n, "rest-ms")
	b.ReportMetric(restTotal.Seconds()/syncTotal.Seconds(), "x-faster")
	b.ReportMetric(ratios[0], "min-x")
	b.ReportMetric(ratios[len(ratios)/2], "median-x")
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkFirstPullLargeRep: one rep with 2,000 customers, ~6,000
// contacts, ~20,000 visits, ~10,000 orders and ~30,000 lines.
func BenchmarkFirstPullLargeRep(b *testing.B) {
	app := seeded(b, sizes(1, 2000))
	rep, _ := repOf(b, app, 1)
	var bytes int64
	var peak uint64
	for b.Loop() {
		w := &countingWriter{}
		p := testapp.PeakHeapGrowth(func() {
			if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id}, w); err != nil {
				b.Fatal(err)
			}
		})
		bytes, peak = w.n, max(peak, p)
	}
	b.ReportMetric(float64(bytes)/(1<<20), "response-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MB")
}

// BenchmarkIncrementalPull100 pulls 100 changes of one rep from a database
// of about a million records.
func BenchmarkIncrementalPull100(b *testing.B) {
	app := seeded(b, sizes(100, 28000))
	total := countRecords(app)
	rep, _ := repOf(b, app, 1)
	var top int64
	if err := app.DB().NewQuery("SELECT MAX(seq) FROM " + rsync.ChangesTable).Row(&top); err != nil {
		b.Fatal(err)
	}
	cursor := rsync.EncodeCursor(top, top)
	var visits []string
	_ = app.DB().NewQuery("SELECT v.id FROM visits v JOIN customers c ON c.id = v.customer WHERE c.owner = {:r} LIMIT 100").Bind(dbx.Params{"r": rep.Id}).Column(&visits)
	for i, id := range visits {
		if _, err := app.DB().NewQuery("UPDATE visits SET outcome = {:o} WHERE id = {:id}").Bind(dbx.Params{"o": fmt.Sprint("changed ", i), "id": id}).Execute(); err != nil {
			b.Fatal(err)
		}
	}
	// warm the page cache once, as a running server has it
	if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id, LastPulledAt: &cursor}, io.Discard); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w := &countingWriter{}
		if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id, LastPulledAt: &cursor}, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total), "records")
}

// burstRep is one rep of a concurrent-sync burst: what it sends, and what
// it got back.
type burstRep struct {
	rep, token string
	body       []byte   // the push
	created    []string // visits the push creates
	pushed     []byte   // the push response
	second     []byte   // the pull after the push
}

// burst is a set of reps about to sync at once. The set-up (building each
// rep's push) and the checks (decoding every response) run before and
// after the burst: on this two-core machine the client shares the server's
// cores, and phones decode on their own.
type burst struct {
	reps []*burstRep
	// latencies of every request, and of pulls and pushes alone
	all, pulls, pushes []time.Duration
}

// newBurst prepares reps reps, each pushing perRep visits: half creates,
// half updates of visits it already has. Bursts of another round create
// other visits.
func newBurst(tb testing.TB, app *tests.TestApp, reps, perRep, round int) *burst {
	b := &burst{}
	for i := 1; i <= reps; i++ {
		rep, token := repOf(tb, app, i)
		// enough mutations for perRep/2 creates and as many updates, from the
		// fewest visits a rep must hold (mutations asks for half its n)
		changes, _ := mutations(tb, app, rep.Id, perRep*5/4+1, round*reps+i)
		visits := changes[crm.Visits]
		visits.Deleted = nil
		visits.Created = visits.Created[:min(len(visits.Created), perRep/2)]
		visits.Updated = visits.Updated[:min(len(visits.Updated), perRep-len(visits.Created))]
		body, _ := json.Marshal(rsync.Changes{crm.Visits: visits})
		r := &burstRep{rep: rep.Id, token: token, body: body}
		for _, v := range visits.Created {
			r.created = append(r.created, v["id"].(string))
		}
		b.reps = append(b.reps, r)
	}
	return b
}

// serve starts a loopback HTTP server for app, closed with tb.
func serve(tb testing.TB, app *tests.TestApp) *httptest.Server {
	srv := httptest.NewServer(testapp.NewClient(tb, app).Handler())
	tb.Cleanup(srv.Close)
	return srv
}

// run has every rep sync at once with srv (pull, push, pull), released
// together, and records the latencies. Responses are only read here;
// check decodes them.
func (b *burst) run(tb testing.TB, srv *httptest.Server) {
	// one keep-alive connection per rep, as phones have
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: len(b.reps) * 2, MaxIdleConnsPerHost: len(b.reps) * 2}}
	defer client.CloseIdleConnections()
	var mu gosync.Mutex
	var failures atomic.Int64
	timed := func(r *burstRep, method, url string, body []byte, kind *[]time.Duration) []byte {
		req, _ := http.NewRequest(method, srv.URL+url, bytesReader(body))
		req.Header.Set("Authorization", r.token)
		req.Header.Set("X-Device-Id", "load-"+r.rep)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			failures.Add(1)
			tb.Error(err)
			return nil
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		d := time.Since(start)
		if err != nil || res.StatusCode != 200 {
			failures.Add(1)
			tb.Errorf("%s %s: %d %v %s", method, url, res.StatusCode, err, data)
			return nil
		}
		mu.Lock()
		b.all = append(b.all, d)
		*kind = append(*kind, d)
		mu.Unlock()
		return data
	}
	release := make(chan struct{})
	var wg gosync.WaitGroup
	for _, r := range b.reps {
		wg.Go(func() {
			<-release
			first := timed(r, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, &b.pulls)
			ts, ok := pulledAt(first)
			if !ok {
				failures.Add(1)
				tb.Errorf("rep %s: no timestamp in the first pull", r.rep)
				return
			}
			if r.pushed = timed(r, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", ts), r.body, &b.pushes); r.pushed == nil {
				return
			}
			r.second = timed(r, "GET", fmt.Sprintf("/api/sync/pull?schema_version=4&last_pulled_at=%d", ts), nil, &b.pulls)
		})
	}
	close(release)
	wg.Wait()
	if failures.Load() > 0 {
		tb.Fatalf("%d failed requests", failures.Load())
	}
	for _, l := range [][]time.Duration{b.all, b.pulls, b.pushes} {
		slices.Sort(l)
	}
}

// check decodes what every rep got back: nothing rejected, each rep's
// created visits in its next pull, and every pushed visit on the server.
func (b *burst) check(tb testing.TB, app *tests.TestApp) {
	for _, r := range b.reps {
		var res rsync.PushResult
		if err := json.Unmarshal(r.pushed, &res); err != nil {
			tb.Fatalf("rep %s: push response: %v", r.rep, err)
		}
		if len(res.Rejected) > 0 {
			tb.Errorf("rep %s: rejected %v", r.rep, res.Rejected)
		}
		var second pullResult
		if err := json.Unmarshal(r.second, &second); err != nil {
			tb.Fatalf("rep %s: second pull: %v", r.rep, err)
		}
		for _, id := range r.created {
			if second.record(crm.Visits, id) == nil {
				tb.Errorf("rep %s: pushed visit %s is not in the next pull", r.rep, id)
			}
		}
	}
	var ids []string
	for _, r := range b.reps {
		ids = append(ids, r.created...)
	}
	want, created := len(ids), 0
	all, _ := json.Marshal(ids)
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM visits WHERE id IN (SELECT value FROM json_each({:ids}))").Bind(dbx.Params{"ids": string(all)}).Row(&created)
	if created != want {
		tb.Fatalf("%d pushed visits on the server, want %d", created, want)
	}
}

// pulledAt finds the timestamp of a pull response without decoding it
// (WatermelonDB's pull ends with it, or with experimentalStrategy after it).
func pulledAt(body []byte) (int64, bool) {
	i := bytes.LastIndex(body, []byte(`"timestamp":`))
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(`"timestamp":`):]
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, false
	}
	ts, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return ts, err == nil
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return http.NoBody
	}
	return bytes.NewReader(b)
}

// TestConcurrentReps: many reps sync at once; no errors, nothing lost.
func TestConcurrentReps(t *testing.T) {
	t.Parallel()
	app := seeded(t, sizes(30, 300))
	b := newBurst(t, app, 30, 50, 0)
	b.run(t, serve(t, app))
	b.check(t, app)
}

// BenchmarkConcurrent200Reps: 200 reps sync at once over loopback (pull,
// push 50 changes, pull); reports latency percentiles.
// Percentiles are over every request of every iteration; worst-p99-ms is
// the p99 of the worst iteration; pull- and push-p99-ms split them by kind.
func BenchmarkConcurrent200Reps(b *testing.B) {
	var all, pulls, pushes []time.Duration
	var worst time.Duration
	for b.Loop() {
		b.StopTimer()
		it := &iteration{TB: b}
		app := seeded(it, sizes(200, 2000))
		run, srv := newBurst(b, app, 200, 50, 0), serve(it, app)
		b.StartTimer()
		run.run(b, srv)
		b.StopTimer()
		run.check(b, app)
		it.done()
		b.StartTimer()
		worst = max(worst, percentile(run.all, 0.99))
		all, pulls, pushes = append(all, run.all...), append(pulls, run.pulls...), append(pushes, run.pushes...)
	}
	for _, l := range [][]time.Duration{all, pulls, pushes} {
		slices.Sort(l)
	}
	b.ReportMetric(float64(percentile(all, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Milliseconds()), "max-ms")
	b.ReportMetric(float64(percentile(pulls, 0.99).Milliseconds()), "pull-p99-ms")
	b.ReportMetric(float64(percentile(pushes, 0.99).Milliseconds()), "push-p99-ms")
}

// BenchmarkConcurrent200RepsWarm: the same burst on a server that has
// already served one (its read connections open, its caches warm); only
// the second burst is measured.
func BenchmarkConcurrent200RepsWarm(b *testing.B) {
	var all []time.Duration
	for b.Loop() {
		b.StopTimer()
		it := &iteration{TB: b}
		app := seeded(it, sizes(200, 2000))
		srv := serve(it, app)
		newBurst(b, app, 200, 50, 0).run(b, srv)
		run := newBurst(b, app, 200, 50, 1)
		b.StartTimer()
		run.run(b, srv)
		b.StopTimer()
		run.check(b, app)
		it.done()
		b.StartTimer()
		all = append(all, run.all...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(percentile(all, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Milliseconds()), "p99-ms")
}

// percentile of sorted latencies.
func percentile(lat []time.Duration, p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }

// BenchmarkIncrementalPullAfterSync pulls 100 changes of one rep from a
// database of about a million records with a cursor as a phone holds it
// after an earlier sync: its previous position is 100 changes further
// back, and a schema-2 pull reads that window too (deletions due after
// tombstones).
func BenchmarkIncrementalPullAfterSync(b *testing.B) {
	app := seeded(b, sizes(100, 28000))
	rep, _ := repOf(b, app, 1)
	var visits []string
	_ = app.DB().NewQuery("SELECT v.id FROM visits v JOIN customers c ON c.id = v.customer WHERE c.owner = {:r} LIMIT 200").Bind(dbx.Params{"r": rep.Id}).Column(&visits)
	top := func() int64 {
		var t int64
		if err := app.DB().NewQuery("SELECT MAX(seq) FROM " + rsync.ChangesTable).Row(&t); err != nil {
			b.Fatal(err)
		}
		return t
	}
	change := func(ids []string) {
		for i, id := range ids {
			if _, err := app.DB().NewQuery("UPDATE visits SET outcome = {:o} WHERE id = {:id}").Bind(dbx.Params{"o": fmt.Sprint("changed ", i), "id": id}).Execute(); err != nil {
				b.Fatal(err)
			}
		}
	}
	before := top()
	change(visits[:100]) // what the phone's previous sync brought
	cursor := rsync.EncodeCursor(top(), before)
	change(visits[100:]) // what this pull brings
	if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id, LastPulledAt: &cursor}, io.Discard); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id, LastPulledAt: &cursor}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushLargest pushes the most one push may carry: 20,000 mixed
// mutations (10,000 creates, 8,000 edits, 2,000 deletes; 2.5 MB of JSON)
// for a rep with 2,000 customers, decoded and applied as the handler does.
// It reports the time and the peak heap growth: a phone back from a long
// time offline is not stuck, and the server's memory stays bounded by the
// push limits.
func BenchmarkPushLargest(b *testing.B) {
	app := seeded(b, sizes(1, 2000))
	rep, _ := repOf(b, app, 1)
	var top int64
	if err := app.DB().NewQuery("SELECT MAX(seq) FROM " + rsync.ChangesTable).Row(&top); err != nil {
		b.Fatal(err)
	}
	var peak uint64
	var size int
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		changes, _ := mutations(b, app, rep.Id, 20000, i)
		body, _ := json.Marshal(changes)
		size = len(body)
		b.StartTimer()
		p := testapp.PeakHeapGrowth(func() {
			decoded, err := rsync.DecodeChanges(body)
			if err != nil {
				b.Fatal(err)
			}
			res, err := rsync.Push(context.Background(), app, rsync.PushRequest{Rep: rep.Id, LastPulledAt: rsync.EncodeCursor(top, top), Changes: decoded, Now: time.Now()})
			if err != nil || len(res.Rejected) > 0 {
				b.Fatalf("push: %v, %d refused", err, len(res.Rejected))
			}
		})
		peak = max(peak, p)
	}
	b.ReportMetric(float64(size)/(1<<20), "body-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MB")
}

// BenchmarkFirstPullLargeRepGzip is BenchmarkFirstPullLargeRep through
// gzip at the level the pull route uses (BestSpeed): the bytes a phone
// that accepts gzip receives, and what compressing costs.
func BenchmarkFirstPullLargeRepGzip(b *testing.B) {
	app := seeded(b, sizes(1, 2000))
	rep, _ := repOf(b, app, 1)
	var plain, zipped int64
	for b.Loop() {
		cw := &countingWriter{}
		zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
		pw := &countingWriter{}
		if err := rsync.Pull(context.Background(), app, rsync.PullRequest{Rep: rep.Id}, io.MultiWriter(zw, pw)); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		plain, zipped = pw.n, cw.n
	}
	b.ReportMetric(float64(plain)/(1<<20), "plain-MB")
	b.ReportMetric(float64(zipped)/(1<<20), "gzip-MB")
	b.ReportMetric(float64(plain)/float64(zipped), "x-smaller")
}
