package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"rounds/crm"
	"rounds/hooks"
	"rounds/seed"
)

// The test binary doubles as the rounds binary: with ROUNDS_MAIN=1 it runs
// main() with its arguments, so the CLI is tested without a second build.
func TestMain(m *testing.M) {
	if os.Getenv("ROUNDS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func rounds(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ROUNDS_MAIN=1")
	return cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCommandsAsANewUser walks the `make run` sequence with the real CLI:
// migrate, seed --if-empty with the demo superuser (twice: the second run
// leaves the superuser's password alone), serve; then checks the
// dashboard, demo data in every collection, and a rep's scoped view.
func TestCommandsAsANewUser(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const adminEmail, adminPassword = demoAdmin, demoAdminPassword

	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up", "--dir", dir}, "Applied"},
		{[]string{"seed", "--if-empty", "--customers", "40", "--superuser", adminEmail, "--superuser-password", adminPassword, "--dir", dir}, "Demo logins"},
		// the second `make run`: the superuser (whose password an admin may have changed) is left alone
		{[]string{"seed", "--if-empty", "--superuser", adminEmail, "--superuser-password", "a-password-from-the-makefile", "--dir", dir}, "leaving them as they are"},
	} {
		out, err := rounds(ctx, step.args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), step.want) {
			t.Fatalf("rounds %v: %v\n%s", step.args, err, out)
		}
	}
	if out, err := rounds(ctx, "seed", "--dir", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "already holds") {
		t.Fatalf("seeding a full database should fail with a reason: %v\n%s", err, out)
	}

	base, logs := startServer(t, ctx, dir)

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}

	if status, body := get("/_/", ""); status != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("dashboard: %d %.200s", status, body)
	}

	admin := signIn(t, base, "_superusers", adminEmail, adminPassword)
	for _, c := range crm.Collections {
		if c == crm.CareInvites {
			continue // invites are made by reps at work, not seeded
		}
		status, body := get("/api/collections/"+c+"/records?perPage=1", admin)
		var page struct{ TotalItems int }
		_ = json.Unmarshal([]byte(body), &page)
		if status != 200 || page.TotalItems == 0 {
			t.Errorf("%s: %d, %d demo records (%.200s)", c, status, page.TotalItems, body)
		}
	}

	rep := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)
	status, body := get("/api/collections/customers/records?perPage=500&fields=owner", rep)
	var page struct {
		TotalItems int
		Items      []struct{ Owner string }
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || status != 200 || page.TotalItems == 0 {
		t.Fatalf("rep's customers: %d %.300s", status, body)
	}
	for _, c := range page.Items {
		if c.Owner != page.Items[0].Owner {
			t.Fatalf("rep 1 sees customers of two owners: %s and %s", page.Items[0].Owner, c.Owner)
		}
	}
	// without FCM settings the console says so at start (not only the dashboard's logs)
	if !strings.Contains(logs.String(), "Push is not configured") {
		t.Errorf("the console does not say that push is not configured:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), adminPassword) || strings.Contains(logs.String(), seed.DemoPassword) {
		t.Fatal("a password appears in the server log")
	}
}

// startServer runs `rounds serve` on a free loopback port until the test ends.
func startServer(t *testing.T, ctx context.Context, dir string, env ...string) (string, *bytes.Buffer) {
	t.Helper()
	base, logs, stop := startServerStoppable(t, ctx, dir, env...)
	t.Cleanup(stop)
	return base, logs
}

// startServerStoppable runs `rounds serve` and returns a function that
// stops it gracefully (and waits).
func startServerStoppable(t *testing.T, ctx context.Context, dir string, env ...string) (string, *bytes.Buffer, func()) {
	t.Helper()
	addr := freeAddr(t)
	serve := rounds(ctx, "serve", "--http", addr, "--dir", dir)
	serve.Env = append(serve.Env, env...)
	logs := new(bytes.Buffer)
	serve.Stdout, serve.Stderr = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var once gosync.Once
	stop := func() {
		once.Do(func() {
			_ = serve.Process.Signal(syscall.SIGTERM)
			_ = serve.Wait()
		})
	}
	base := "http://" + addr
	waitHealthy(t, base, logs)
	return base, logs, stop
}

// setUp prepares a data directory the way `make run` does, with a small company.
func setUp(t *testing.T, ctx context.Context, dir string, seedArgs ...string) {
	t.Helper()
	for _, args := range [][]string{
		{"migrate", "up", "--dir", dir},
		{"superuser", "upsert", demoAdmin, demoAdminPassword, "--dir", dir},
		append([]string{"seed", "--dir", dir}, seedArgs...),
	} {
		if out, err := rounds(ctx, args...).CombinedOutput(); err != nil {
			t.Fatalf("rounds %v: %v\n%s", args, err, out)
		}
	}
}

const demoAdmin, demoAdminPassword = "admin@rounds.test", "rounds-demo-admin"

// TestWatermelonDBSynchronize runs WatermelonDB's own synchronize() (Node,
// LokiJS adapter) against the server through e2e/watermelon/scenario.js.
func TestWatermelonDBSynchronize(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("e2e/watermelon/node_modules/@nozbe/watermelondb"); err != nil {
		t.Fatal("WatermelonDB is not installed: run `make test` (it runs npm ci in e2e/watermelon)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "40", "--reps", "4", "--today", "2026-03-02")
	base, logs := startServer(t, ctx, dir)

	node := exec.CommandContext(ctx, "node", "scenario.js")
	node.Dir = "e2e/watermelon"
	node.Env = append(os.Environ(),
		"ROUNDS_URL="+base, "ADMIN_EMAIL="+demoAdmin, "ADMIN_PASSWORD="+demoAdminPassword,
		"REP_A_EMAIL="+seed.RepEmail(1), "REP_B_EMAIL="+seed.RepEmail(2), "REP_PASSWORD="+seed.DemoPassword)
	out, err := node.CombinedOutput()
	t.Logf("scenario:\n%s", out)
	if err != nil {
		t.Fatalf("WatermelonDB scenario failed: %v\nserver log:\n%s", err, logs.String())
	}
}

// TestREADMEClientRunsAsPrinted runs README's sync client, taken from
// README.md as printed, with WatermelonDB in Node against the server
// (e2e/watermelon/readme.js): refusals come back with their reasons, parts,
// a busy server, a signed-out token.
func TestREADMEClientRunsAsPrinted(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("e2e/watermelon/node_modules/@nozbe/watermelondb"); err != nil {
		t.Fatal("WatermelonDB is not installed: run `make test` (it runs npm ci in e2e/watermelon)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "6", "--reps", "2")
	base, logs := startServer(t, ctx, dir)
	node := exec.CommandContext(ctx, "node", "readme.js")
	node.Dir = "e2e/watermelon"
	node.Env = append(os.Environ(), "ROUNDS_URL="+base, "REP_A_EMAIL="+seed.RepEmail(1), "REP_PASSWORD="+seed.DemoPassword)
	out, err := node.CombinedOutput()
	t.Logf("README client:\n%s", out)
	if err != nil {
		t.Fatalf("README's client failed: %v\nserver log:\n%s", err, logs.String())
	}
}

func waitHealthy(t *testing.T, base string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server did not become healthy:\n%s", logs.String())
}

func signIn(t *testing.T, base, collection, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"identity": email, "password": password})
	res, err := http.Post(fmt.Sprintf("%s/api/collections/%s/auth-with-password", base, collection), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var auth struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&auth); err != nil || res.StatusCode != 200 || auth.Token == "" {
		t.Fatalf("sign in %s as %s: %d %v", collection, email, res.StatusCode, err)
	}
	return auth.Token
}

// TestConfigRejectsBadValues: a bad setting stops the start with a message
// naming it; good ones are taken.
func TestConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for name, kv := range map[string]map[string]string{
		"ROUNDS_PUBLIC_URL":           {"ROUNDS_PUBLIC_URL": "rounds.example.com"},
		"ROUNDS_TERRITORY_GRACE_DAYS": {"ROUNDS_TERRITORY_GRACE_DAYS": "a week"},
		"ROUNDS_TIMEZONE":             {"ROUNDS_TIMEZONE": "Mars/Olympus"},
		"ROUNDS_PUSH_QUEUE":           {"ROUNDS_PUSH_QUEUE": "-1"},
		"ROUNDS_PUSH_SHARE":           {"ROUNDS_PUSH_SHARE": "two"},
		"ROUNDS_REPLICA_URL":          {"ROUNDS_REPLICA_URL": "ftp://backups.example.com/rounds"},
		"ROUNDS_REPLICA_SYNC":         {"ROUNDS_REPLICA_URL": "file:///tmp/rounds-replica", "ROUNDS_REPLICA_SYNC": "fast"},
		"ROUNDS_MAP_TILES":            {"ROUNDS_MAP_TILES": "https://tiles.example.com/{z}/{x}.png"},
		"ROUNDS_MAP_TILES ":           {"ROUNDS_MAP_TILES": "ftp://tiles.example.com/{z}/{x}/{y}.png"},
		"ROUNDS_MAP_TILES  ":          {"ROUNDS_MAP_TILES": "https://tiles.{s}.example.com/{z}/{x}/{y}.png"},
	} {
		name = strings.TrimSpace(name)
		if _, err := config(env(kv)); err == nil || (name != "ROUNDS_TIMEZONE" && !strings.Contains(err.Error(), name)) {
			t.Errorf("%v: %v", kv, err)
		}
	}
	deps, err := config(env(map[string]string{"ROUNDS_PUBLIC_URL": "https://rounds.example.com/", "ROUNDS_TERRITORY_GRACE_DAYS": "0", "ROUNDS_PUSH_QUEUE": "0", "ROUNDS_PUSH_SHARE": "3",
		"ROUNDS_MAP_TILES": "https://{s}.tiles.example.com/base/{z}/{x}/{y}@2x.png"}))
	if err != nil || deps.PublicURL != "https://rounds.example.com" || deps.TerritoryGrace >= 0 || deps.PushQueue >= 0 || deps.PushShare != 3 || deps.Replica != nil ||
		deps.MapTiles != "https://{s}.tiles.example.com/base/{z}/{x}/{y}@2x.png" {
		t.Fatalf("good values: %+v %v", deps, err)
	}
	if deps, _ := config(env(nil)); deps.MapTiles != hooks.DefaultMapTiles {
		t.Fatalf("the map's tiles default to %q", deps.MapTiles)
	}
}
