// Package loadtest drives a running Rounds server the way a field team's
// phones do, to find the rate of syncs one node carries: each sync is a
// pull, a push of a few changes and a pull, sent at a fixed rate (open
// loop: a slow server does not slow the arrivals, as phones on the road do
// not wait for each other). It measures latency per step, pushes overtaken
// by pushes sent after them, pushes turned away (429), and errors.
//
// It talks HTTP only and targets loopback unless told otherwise.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options of a run.
type Options struct {
	URL      string           // the server, e.g. http://127.0.0.1:8090
	Reps     int              // reps signed in: rep1@…, rep2@…
	Email    func(int) string // the i-th rep's login (1-based)
	Password string
	Rates    []float64     // syncs per second, one step each
	Step     time.Duration // how long each rate is held
	Changes  int           // records per push (a third new visits, the rest edits)
	Timeout  time.Duration // a phone gives up on a request after this
	Seed     uint64
	Progress io.Writer // a line per step as it finishes; nil: quiet
	// ServerPID, when set, is the server's process on this machine: each
	// step then reports the server's CPU time per sync (Linux /proc).
	ServerPID int
}

// Latency summarises one kind of request.
type Latency struct {
	Count              int
	P50, P95, P99, Max time.Duration
}

// Step is what one rate gave.
type Step struct {
	Rate      float64 // asked, syncs per second
	Achieved  float64 // syncs finished per second
	Syncs     int     // finished without error
	Pull      Latency
	Push      Latency
	Busy      int // pushes answered 429 (Retry-After)
	Errors    int // other failures, timeouts included
	InFlight  int // most syncs under way at once
	Overtaken int // pushes finished after a push sent later had finished
	// SlowOvertaken is the share of pushes slower than the push p95 that
	// were overtaken.
	SlowOvertaken float64
	FirstError    string
	// ServerCPU is the CPU time the server process used during the step
	// (with ServerPID), background work included; 0 when not measured.
	ServerCPU time.Duration
}

// CPUPerSync is the server's CPU time per finished sync (pull, push,
// pull), or 0 when not measured.
func (s Step) CPUPerSync() time.Duration {
	if s.ServerCPU <= 0 || s.Syncs == 0 {
		return 0
	}
	return s.ServerCPU / time.Duration(s.Syncs)
}

// processCPU is the user and system CPU time a process has used, from
// /proc/PID/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("the server's CPU time: %w", err)
	}
	// the fields after the command name, which is in parentheses and may hold spaces
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("the server's CPU time: /proc/%d/stat is not a process's", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("the server's CPU time: /proc/%d/stat is too short", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("the server's CPU time: /proc/%d/stat: %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// Knee reports whether the step is past what the node carries: pushes
// turned away (429) or failing, or the rate not reached.
func (s Step) Knee() bool {
	return s.Busy > 0 || s.Errors > 0 || s.Achieved < 0.95*s.Rate
}

// TailRatio is push p99 over p50 (how much longer the slowest wait).
func (s Step) TailRatio() float64 {
	if s.Push.P50 <= 0 {
		return 0
	}
	return float64(s.Push.P99) / float64(s.Push.P50)
}

type rep struct {
	token    string
	cursor   int64
	visits   []string
	customer []string
	busy     atomic.Bool
}

// Run signs the reps in, gives each its first pull, then holds each rate
// for Step and reports what it measured.
func Run(ctx context.Context, o Options) ([]Step, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: o.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}}
	reps := make([]*rep, o.Reps)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range reps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := start(ctx, client, o, i+1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			reps[i] = r
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x10ad))
	var steps []Step
	for _, rate := range o.Rates {
		s := runStep(ctx, client, o, reps, rate, rng)
		steps = append(steps, s)
		if o.Progress != nil {
			fmt.Fprintln(o.Progress, s.String())
		}
		if ctx.Err() != nil {
			break
		}
	}
	return steps, ctx.Err()
}

func (o Options) check() error {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--url must be the server's address, such as http://127.0.0.1:8090, got %q", o.URL)
	}
	host := u.Hostname()
	ips, _ := net.LookupIP(host)
	if len(ips) == 0 || !slices.ContainsFunc(ips, func(ip net.IP) bool { return ip.IsLoopback() }) {
		return fmt.Errorf("loadtest targets this machine only (loopback), not %s", host)
	}
	switch {
	case o.Email == nil:
		return fmt.Errorf("the reps' logins are not set (Options.Email)")
	case o.Reps < 1:
		return fmt.Errorf("--reps must be at least 1")
	case len(o.Rates) == 0:
		return fmt.Errorf("--rates needs at least one rate")
	case o.Step <= 0 || o.Step > 10*time.Minute:
		return fmt.Errorf("--step must be between 1s and 10m, got %v", o.Step)
	case o.Changes < 1 || o.Changes > 1000:
		return fmt.Errorf("--changes must be from 1 to 1000, got %d", o.Changes)
	}
	for _, r := range o.Rates {
		if r <= 0 || r > 5000 {
			return fmt.Errorf("a rate must be more than 0 and at most 5000 syncs a second, got %v", r)
		}
	}
	return nil
}

// start signs rep i in and pulls everything once.
func start(ctx context.Context, client *http.Client, o Options, i int) (*rep, error) {
	var auth struct{ Token string }
	status, refusal, err := call(ctx, client, "POST", o.URL+"/api/collections/users/auth-with-password", "",
		map[string]string{"identity": o.Email(i), "password": o.Password}, &auth)
	if err != nil {
		return nil, fmt.Errorf("sign in %s: %w", o.Email(i), err)
	}
	if status != 200 {
		return nil, fmt.Errorf("%w (seed the server with at least --reps reps and their password)", statusError("sign in "+o.Email(i), status, refusal))
	}
	r := &rep{token: auth.Token}
	var first struct {
		Changes struct {
			Customers struct{ Updated []struct{ ID string } } `json:"customers"`
			Visits    struct{ Updated []struct{ ID string } } `json:"visits"`
		} `json:"changes"`
		Timestamp int64 `json:"timestamp"`
	}
	status, refusal, err = call(ctx, client, "GET", o.URL+"/api/sync/pull?schema_version=4&last_pulled_at=null", r.token, nil, &first)
	if err != nil {
		return nil, fmt.Errorf("first pull of %s: %w", o.Email(i), err)
	}
	if status != 200 {
		return nil, statusError("first pull of "+o.Email(i), status, refusal)
	}
	for _, c := range first.Changes.Customers.Updated {
		r.customer = append(r.customer, c.ID)
	}
	for _, v := range first.Changes.Visits.Updated {
		r.visits = append(r.visits, v.ID)
	}
	if len(r.customer) == 0 {
		return nil, fmt.Errorf("%s owns no customer: seed more customers", o.Email(i))
	}
	r.cursor = first.Timestamp
	return r, nil
}

type pushTime struct{ sent, done time.Time }

func runStep(ctx context.Context, client *http.Client, o Options, reps []*rep, rate float64, rng *rand.Rand) Step {
	s := Step{Rate: rate}
	var mu sync.Mutex
	var pulls, pushes []time.Duration
	var times []pushTime
	var inFlight, most atomic.Int64
	var wg sync.WaitGroup
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		s.Errors++
		if s.FirstError == "" {
			s.FirstError = err.Error()
		}
	}
	interval := time.Duration(float64(time.Second) / rate)
	var cpu0 time.Duration
	if o.ServerPID > 0 {
		var err error
		if cpu0, err = processCPU(o.ServerPID); err != nil {
			fail(err)
		}
	}
	begin := time.Now()
	n := int(rate * o.Step.Seconds())
	for k := 0; k < n && ctx.Err() == nil; k++ {
		time.Sleep(time.Until(begin.Add(time.Duration(k) * interval)))
		r := reps[rng.IntN(len(reps))]
		for tries := 0; r.busy.Load() && tries < len(reps); tries++ {
			r = reps[rng.IntN(len(reps))] // a phone syncs once at a time
		}
		if !r.busy.CompareAndSwap(false, true) {
			fail(errors.New("every rep was busy syncing: use more --reps"))
			continue
		}
		seq := k
		body := pushBody(r, o.Changes, seq, rate, rng)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.busy.Store(false)
			if m := inFlight.Add(1); m > most.Load() {
				most.Store(m)
			}
			defer inFlight.Add(-1)
			t0 := time.Now()
			if err := pull(ctx, client, o, r); err != nil {
				fail(err)
				return
			}
			t1 := time.Now()
			status, refusal, err := call(ctx, client, "POST", fmt.Sprintf("%s/api/sync/push?last_pulled_at=%d", o.URL, r.cursor), r.token, body, nil)
			t2 := time.Now()
			switch {
			case err != nil:
				fail(fmt.Errorf("push: %w", err))
				return
			case status == http.StatusTooManyRequests:
				mu.Lock()
				s.Busy++
				mu.Unlock()
				return
			case status != 200:
				fail(statusError("push", status, refusal))
				return
			}
			if err := pull(ctx, client, o, r); err != nil {
				fail(err)
				return
			}
			t3 := time.Now()
			mu.Lock()
			pulls = append(pulls, t1.Sub(t0), t3.Sub(t2))
			pushes = append(pushes, t2.Sub(t1))
			times = append(times, pushTime{t1, t2})
			s.Syncs++
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.Achieved = float64(s.Syncs) / time.Since(begin).Seconds()
	if o.ServerPID > 0 && cpu0 > 0 {
		if cpu1, err := processCPU(o.ServerPID); err == nil {
			s.ServerCPU = cpu1 - cpu0
		}
	}
	s.Pull, s.Push = summarise(pulls), summarise(pushes)
	s.InFlight = int(most.Load())
	s.Overtaken, s.SlowOvertaken = overtaken(times, s.Push.P95)
	return s
}

// overtaken counts pushes that finished after a push sent later had
// finished, and the share of those slower than slow among the slow ones.
func overtaken(times []pushTime, slow time.Duration) (int, float64) {
	sort.Slice(times, func(i, j int) bool { return times[i].sent.Before(times[j].sent) })
	n, slowN, slowOver := 0, 0, 0
	// earliest finish among pushes sent after i, scanning from the end
	earliest := time.Time{}
	for i := len(times) - 1; i >= 0; i-- {
		over := !earliest.IsZero() && earliest.Before(times[i].done)
		if over {
			n++
		}
		if times[i].done.Sub(times[i].sent) > slow {
			slowN++
			if over {
				slowOver++
			}
		}
		if earliest.IsZero() || times[i].done.Before(earliest) {
			earliest = times[i].done
		}
	}
	if slowN == 0 {
		return n, 0
	}
	return n, float64(slowOver) / float64(slowN)
}

func pull(ctx context.Context, client *http.Client, o Options, r *rep) error {
	var res struct {
		Timestamp int64 `json:"timestamp"`
	}
	status, refusal, err := call(ctx, client, "GET", fmt.Sprintf("%s/api/sync/pull?schema_version=4&last_pulled_at=%d", o.URL, r.cursor), r.token, nil, &res)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if status != 200 {
		return statusError("pull", status, refusal)
	}
	r.cursor = res.Timestamp
	return nil
}

// pushBody is a rep's push: a third new visits, the rest edits of visits
// they have (or more new visits when they have none).
func pushBody(r *rep, n, seq int, rate float64, rng *rand.Rand) map[string]any {
	var created, updated []map[string]any
	for i := range n {
		if i < n/3 || len(r.visits) == 0 {
			created = append(created, map[string]any{
				"id":       fmt.Sprintf("lt%x%06d%03d", rng.Uint32(), seq%1000000, i),
				"customer": r.customer[rng.IntN(len(r.customer))], "purpose": "load test at " + strconv.FormatFloat(rate, 'f', -1, 64) + "/s",
			})
			continue
		}
		updated = append(updated, map[string]any{"id": r.visits[rng.IntN(len(r.visits))], "outcome": fmt.Sprintf("load test %d", seq),
			"_status": "updated", "_changed": "outcome"})
	}
	return map[string]any{"visits": map[string]any{"created": created, "updated": updated, "deleted": []string{}}}
}

func call(ctx context.Context, client *http.Client, method, u, token string, body, out any) (status int, refusal string, err error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Device-Id", "loadtest")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return res.StatusCode, refusalOf(res.Body), nil
	}
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body)
		return res.StatusCode, "", err
	}
	return res.StatusCode, "", json.NewDecoder(res.Body).Decode(out)
}

// refusalOf is what a refused request's body says: PocketBase's message
// when it is one of its errors, else the start of the body, so that a
// load test that stops names the server's reason.
func refusalOf(body io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(body, 4096))
	io.Copy(io.Discard, body)
	var e struct{ Message string }
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(data[:min(len(data), 200)]))
}

// statusError words a refused request for a report.
func statusError(what string, status int, refusal string) error {
	if refusal == "" {
		return fmt.Errorf("%s: status %d", what, status)
	}
	return fmt.Errorf("%s: status %d: %s", what, status, refusal)
}

func summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return Latency{Count: len(ds), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1]}
}

// String is one line of the report.
func (s Step) String() string {
	knee := ""
	if s.Knee() {
		knee = "  <- past the knee"
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	line := fmt.Sprintf("%6.0f/s asked %6.1f/s done  push p50 %s p95 %s p99 %s (%.1fx) max %s ms  pull p50 %s p99 %s ms  in flight %d  429 %d  errors %d  overtaken %d (slow %.0f%%)%s",
		s.Rate, s.Achieved, ms(s.Push.P50), ms(s.Push.P95), ms(s.Push.P99), s.TailRatio(), ms(s.Push.Max), ms(s.Pull.P50), ms(s.Pull.P99),
		s.InFlight, s.Busy, s.Errors, s.Overtaken, 100*s.SlowOvertaken, knee)
	if s.ServerCPU > 0 {
		line += fmt.Sprintf("  server CPU %s ms a sync", ms(s.CPUPerSync()))
	}
	if s.FirstError != "" {
		line += "\n        first error: " + s.FirstError
	}
	return line
}
