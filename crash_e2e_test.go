package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"rounds/internal/fakefcm"
	"rounds/seed"
)

// server is a `rounds serve` process that a test may kill and restart.
type server struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	addr  string
	env   []string
	mu    gosync.Mutex
	cmd   *exec.Cmd
	logs  *bytes.Buffer
	kills int
}

func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd = rounds(s.ctx, "serve", "--http", s.addr, "--dir", s.dir)
	s.cmd.Env = append(s.cmd.Env, s.env...)
	s.logs = new(bytes.Buffer)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	waitHealthy(s.t, "http://"+s.addr, s.logs)
}

// kill sends SIGKILL: no shutdown, no flush, mid-transaction if need be.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.kills++
	}
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
	}
}

func (s *server) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && s.cmd.ProcessState == nil
}

// post sends a request; ok is false when the server did not answer 2xx.
func (s *server) post(path, token string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	req.Header.Set("X-Device-Id", "crash-test-phone")
	client := &http.Client{Timeout: 20 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data, nil
}

// workload is a field day's pushes: new visits, orders with lines, edits.
func workload(customers, visits []string, product string, pushes int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	var out [][]byte
	for p := 0; p < pushes; p++ {
		var vCreated, oCreated, lCreated, vUpdated []map[string]any
		for i := 0; i < 8; i++ {
			c := customers[rng.IntN(len(customers))]
			vCreated = append(vCreated, map[string]any{"id": fmt.Sprintf("crashvisit%02d%03d", p, i), "customer": c,
				"purpose": fmt.Sprintf("visit %d/%d", p, i), "check_in_lat": 52.5, "check_in_lng": 13.4})
			order := fmt.Sprintf("crashorder%02d%03d", p, i)
			oCreated = append(oCreated, map[string]any{"id": order, "customer": c, "status": "draft", "currency": "EUR"})
			for l := 0; l < 3; l++ {
				lCreated = append(lCreated, map[string]any{"id": fmt.Sprintf("crashline%02d%03d%d", p, i, l), "order": order,
					"product": product, "quantity": float64(1 + rng.IntN(9)), "discount_pct": float64(5 * rng.IntN(3))})
			}
		}
		for i := 0; i < 5; i++ {
			vUpdated = append(vUpdated, map[string]any{"id": visits[rng.IntN(len(visits))], "outcome": fmt.Sprintf("outcome of push %d", p),
				"_status": "updated", "_changed": "outcome"})
		}
		body, _ := json.Marshal(map[string]any{
			"visits":      map[string]any{"created": vCreated, "updated": vUpdated, "deleted": []string{}},
			"orders":      map[string]any{"created": oCreated, "updated": []any{}, "deleted": []string{}},
			"order_lines": map[string]any{"created": lCreated, "updated": []any{}, "deleted": []string{}},
		})
		out = append(out, body)
	}
	return out
}

// dump renders the synced tables without the server's clocks.
func dump(t *testing.T, dir string) string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		"SELECT id, customer, rep, purpose, outcome, geo_status FROM visits ORDER BY id",
		"SELECT id, customer, rep, status, total FROM orders ORDER BY id",
		`SELECT id, "order", product, quantity, discount_pct, unit_price, line_total FROM order_lines ORDER BY id`,
		"SELECT COUNT(*) FROM sync_conflicts",
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			_ = rows.Scan(ptrs...)
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

// runDay applies the workload, killing the server at random moments when
// kills is set, retrying every push until it is acknowledged.
func runDay(t *testing.T, ctx context.Context, dir string, killRate float64) (kills int) {
	t.Helper()
	s := &server{t: t, ctx: ctx, dir: dir, addr: freeAddr(t)}
	s.start()
	defer s.stop()
	rep := signIn(t, "http://"+s.addr, "users", seed.RepEmail(1), seed.DemoPassword)
	a := api{t: t, base: "http://" + s.addr}
	var customers, visits struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/customers/records?perPage=100&sort=id&fields=id", rep, nil, &customers)
	a.do("GET", "/api/collections/visits/records?perPage=50&sort=id&fields=id", rep, nil, &visits)
	var products struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/products/records?perPage=1&sort=id&fields=id", rep, nil, &products)
	var cs, vs []string
	for _, c := range customers.Items {
		cs = append(cs, c.ID)
	}
	for _, v := range visits.Items {
		vs = append(vs, v.ID)
	}
	var pulled struct{ Timestamp int64 }
	a.do("GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", rep, nil, &pulled)

	rng := rand.New(rand.NewPCG(99, 1))
	for i, body := range workload(cs, vs, products.Items[0].ID, 12) {
		for attempt := 0; ; attempt++ {
			if attempt > 20 {
				t.Fatalf("push %d never went through", i)
			}
			var killer gosync.WaitGroup
			if rng.Float64() < killRate {
				killer.Add(1)
				delay := time.Duration(rng.IntN(40)) * time.Millisecond
				go func() {
					defer killer.Done()
					time.Sleep(delay)
					s.kill()
				}()
			}
			status, data, err := s.post(fmt.Sprintf("/api/sync/push?last_pulled_at=%d", pulled.Timestamp), rep, body)
			killer.Wait()
			if !s.alive() {
				s.start()
			}
			if err == nil && status == 200 {
				var res struct{ Rejected []any }
				_ = json.Unmarshal(data, &res)
				if len(res.Rejected) > 0 {
					t.Fatalf("push %d: rejected %v", i, res.Rejected)
				}
				break
			}
			if err == nil && status != 200 && status < 500 {
				t.Fatalf("push %d: %d %s", i, status, data)
			}
		}
	}
	return s.kills
}

// TestCrashSafety kills the server (SIGKILL) at random moments during
// pushes and lets the phone retry: the final data equals a day without
// crashes — no duplicates, no partial push. Then it kills the server during
// outbox delivery: no dedup key reaches FCM twice.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	calm, stormy := t.TempDir(), t.TempDir()
	for _, dir := range []string{calm, stormy} {
		setUp(t, ctx, dir, "--customers", "12", "--reps", "2", "--today", "2026-03-02", "--seed", "5")
	}
	runDay(t, ctx, calm, 0)
	kills := runDay(t, ctx, stormy, 0.6)
	if kills < 3 {
		t.Fatalf("only %d kills: the test did not crash the server enough", kills)
	}
	if a, b := dump(t, calm), dump(t, stormy); a != b {
		t.Fatalf("after %d crashes the data differs from a calm day:\ncalm   %.500s\nstormy %.500s", kills, a, b)
	}

	// the outbox: many pending messages, the job killed while it delivers
	fake := fakefcm.Start()
	defer fake.Close()
	s := &server{t: t, ctx: ctx, dir: stormy, addr: freeAddr(t), env: []string{"FCM_PROJECT_ID=demo", "FCM_ENDPOINT=" + fake.URL + "/v1"}}
	s.start()
	defer s.stop()
	admin := signIn(t, "http://"+s.addr, "_superusers", demoAdmin, demoAdminPassword)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(stormy, "data.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var user string
	_ = db.QueryRow("SELECT user FROM devices LIMIT 1").Scan(&user)
	a := api{t: t, base: "http://" + s.addr}
	for i := 0; i < 300; i++ {
		a.do("POST", "/api/collections/notifications/records", admin, map[string]any{
			"kind": "follow_up_due", "audience": "rep", "user": user, "dedup_key": fmt.Sprintf("crash:%d", i),
			"title": "t", "body": "b", "status": "pending"}, nil)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for round := 0; round < 30; round++ {
		var pending int
		_ = db.QueryRow("SELECT COUNT(*) FROM notifications WHERE status = 'pending'").Scan(&pending)
		if pending == 0 {
			break
		}
		a.do("POST", "/api/crons/reminders", admin, nil, nil)
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		s.kill()
		s.start()
		admin = signIn(t, "http://"+s.addr, "_superusers", demoAdmin, demoAdminPassword)
		// rows claimed by a killed run wait out their lease; let them lapse
		_, _ = db.Exec("UPDATE notifications SET next_attempt_at = '' WHERE status = 'pending' AND error != 'sending'")
		_, _ = db.Exec("UPDATE notifications SET next_attempt_at = '2000-01-01 00:00:00.000Z' WHERE status = 'pending' AND error = 'sending'")
	}
	// a last, undisturbed run delivers what is left
	a.do("POST", "/api/crons/reminders", admin, nil, nil)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var pending int
		_ = db.QueryRow("SELECT COUNT(*) FROM notifications WHERE status = 'pending' AND dedup_key LIKE 'crash:%'").Scan(&pending)
		if pending == 0 {
			break
		}
	}
	seen := map[string]int{}
	for _, m := range fake.Delivered() {
		seen[m.Data["dedup_key"]+"|"+m.Token]++
	}
	for key, n := range seen {
		if n > 1 {
			t.Fatalf("%s reached FCM %d times", key, n)
		}
	}
	var sent, failed int
	_ = db.QueryRow("SELECT COUNT(*) FROM notifications WHERE dedup_key LIKE 'crash:%' AND status = 'sent'").Scan(&sent)
	_ = db.QueryRow("SELECT COUNT(*) FROM notifications WHERE dedup_key LIKE 'crash:%' AND status = 'failed'").Scan(&failed)
	t.Logf("%d pushes survived %d crashes; outbox: %d sent, %d failed as interrupted, %d deliveries", 12, kills, sent, failed, len(fake.Delivered()))
	if sent == 0 || sent+failed != 300 {
		t.Fatalf("of 300 messages %d were sent and %d failed; every one should end one way or the other", sent, failed)
	}
}
