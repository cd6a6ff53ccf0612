package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rounds/seed"
)

// TestDashboardInABrowser drives the PocketBase dashboard in Debian's
// Chromium (playwright-core): a superuser signs in, opens stuck_devices (the
// seed's stuck phone, with its reason), customers, sync_conflicts and
// notifications, renames a customer; the rep's next pull
// carries the new name. Screenshots land in test-artifacts/dashboard.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	chromium := browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "8", "--reps", "2")
	base, logs := startServer(t, ctx, dir)
	a := api{t: t, base: base}
	admin := signIn(t, base, "_superusers", demoAdmin, demoAdminPassword)
	rep := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)

	var customers struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/customers/records?perPage=1&sort=id", rep, nil, &customers)
	id := customers.Items[0].ID
	unique := "Dashboard Test Shop " + id
	a.do("PATCH", "/api/collections/customers/records/"+id, admin, map[string]any{"name": unique}, nil)
	var pulled struct{ Timestamp int64 }
	a.do("GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", rep, nil, &pulled)

	shots, _ := filepath.Abs(filepath.Join("test-artifacts", "dashboard"))
	node := exec.CommandContext(ctx, "node", "dashboard.js")
	node.Dir = "e2e/dashboard"
	node.Env = append(os.Environ(), "ROUNDS_URL="+base, "ADMIN_EMAIL="+demoAdmin, "ADMIN_PASSWORD="+demoAdminPassword,
		"CUSTOMER_NAME="+unique, "NEW_NAME="+unique+" (renamed in the dashboard)", "STUCK_DEVICE=demo-device-2-2", "SHOTS="+shots, "CHROMIUM="+chromium)
	out, err := node.CombinedOutput()
	t.Logf("browser:\n%s", out)
	if err != nil {
		t.Fatalf("dashboard scenario failed: %v\nserver log:\n%s", err, logs.String())
	}

	var next struct {
		Changes map[string]struct {
			Updated []map[string]any `json:"updated"`
		} `json:"changes"`
	}
	if status := a.do("GET", "/api/sync/pull?schema_version=4&last_pulled_at="+jsonNumber(pulled.Timestamp), rep, nil, &next); status != 200 {
		t.Fatalf("pull: %d", status)
	}
	for _, c := range next.Changes["customers"].Updated {
		if c["id"] == id && strings.HasSuffix(c["name"].(string), "(renamed in the dashboard)") {
			return
		}
	}
	t.Fatalf("the rep's next pull does not carry the dashboard edit: %v", next.Changes["customers"].Updated)
}

// browser is the Chromium the browser tests drive (CHROMIUM, else Debian's),
// after checking that it and playwright-core are installed.
func browser(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is not installed at %s: .ci/run installs it (apt-get install chromium)", chromium)
	}
	if _, err := os.Stat("e2e/dashboard/node_modules/playwright-core"); err != nil {
		t.Fatal("playwright-core is not installed: run `make test` (it runs npm ci in e2e/dashboard)")
	}
	return chromium
}

func jsonNumber(n int64) string {
	data, _ := json.Marshal(n)
	return string(data)
}
