package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"rounds/care"
	"rounds/seed"
)

// TestRepsAppOfflineInABrowser runs e2e/dashboard/app.js in Debian's
// Chromium against a seeded server: a rep's day in the app at a phone's
// size, offline after the first sync (a reload included), then back
// online, where the app syncs by itself and the server holds everything
// with its own geo_status. Screenshots land in test-artifacts/app.
func TestRepsAppOfflineInABrowser(t *testing.T) {
	t.Parallel()
	chromium := browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "24", "--reps", "3")
	base, logs := startServer(t, ctx, dir)
	shots, err := filepath.Abs(filepath.Join("test-artifacts", "app"))
	if err != nil {
		t.Fatal(err)
	}
	// the lunar days of the coming days, as the server greets them (outside
	// leap months, before a 30th): the app must list a lunar birthday on its day
	lunar := map[string]string{}
	for i := -1; i <= 10; i++ {
		d := time.Now().AddDate(0, 0, i)
		if l := care.LunarOf(care.Date{Year: d.Year(), Month: d.Month(), Day: d.Day()}); !l.Leap && l.Day <= 28 {
			lunar[d.Format(time.DateOnly)] = fmt.Sprintf("%02d-%02d", l.Month, l.Day)
		}
	}
	lunarDays, err := json.Marshal(lunar)
	if err != nil {
		t.Fatal(err)
	}
	node := exec.CommandContext(ctx, "node", "app.js")
	node.Dir = "e2e/dashboard"
	node.Env = append(os.Environ(), "ROUNDS_URL="+base, "REP_EMAIL="+seed.RepEmail(1), "MANAGER_EMAIL="+seed.ManagerEmail(1),
		"PASSWORD="+seed.DemoPassword, "SHOTS="+shots, "CHROMIUM="+chromium, "ADMIN_EMAIL="+demoAdmin, "ADMIN_PASSWORD="+demoAdminPassword,
		"LUNAR_DAYS="+string(lunarDays))
	out, err := node.CombinedOutput()
	t.Logf("app:\n%s", out)
	if err != nil {
		t.Fatalf("the reps' app failed: %v\nserver log:\n%s", err, logs.String())
	}
}

// TestRepsAppWithTheOfficeAndTwoPhones runs e2e/dashboard/app-office.js:
// one rep's two phones (two browser contexts) while the office deletes a
// visit a phone is editing offline, hands a customer away and changes a
// price; then a busy server and a push whose answer is lost.
func TestRepsAppWithTheOfficeAndTwoPhones(t *testing.T) {
	t.Parallel()
	chromium := browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "12", "--reps", "2")
	base, logs := startServer(t, ctx, dir)
	node := exec.CommandContext(ctx, "node", "app-office.js")
	node.Dir = "e2e/dashboard"
	node.Env = append(os.Environ(), "ROUNDS_URL="+base, "REP_EMAIL="+seed.RepEmail(1), "OTHER_REP_EMAIL="+seed.RepEmail(2),
		"PASSWORD="+seed.DemoPassword, "ADMIN_EMAIL="+demoAdmin, "ADMIN_PASSWORD="+demoAdminPassword, "CHROMIUM="+chromium)
	out, err := node.CombinedOutput()
	t.Logf("app with the office:\n%s", out)
	if err != nil {
		t.Fatalf("the reps' app with the office failed: %v\nserver log:\n%s", err, logs.String())
	}
}
