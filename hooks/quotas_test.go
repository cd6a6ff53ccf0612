package hooks_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"rounds/internal/testapp"
)

// TestQuotasAreCheckedAndSetByTheTeamsManager draws quotas from a seed and
// sends them as the rep's manager, another manager, the rep and an admin:
// only the manager of the rep and an admin set them; a period that ends
// before it starts, or a quota for a manager, is a 400 naming the field;
// a rep may not move a quota to someone else.
func TestQuotasAreCheckedAndSetByTheTeamsManager(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	rng := rand.New(rand.NewPCG(24, 2))
	type M = map[string]any
	for i := range 40 {
		start := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).AddDate(i, 0, 0)
		end := start.AddDate(0, 0, rng.IntN(100)-10) // now and then before the start
		rep := []string{testapp.UserRepA, testapp.UserRepB, testapp.UserRepX, testapp.UserManagerA}[rng.IntN(4)]
		who := []string{testapp.ManagerA, testapp.ManagerX, testapp.RepA, testapp.Admin}[rng.IntN(4)]
		body := M{"rep": rep, "period_start": start.Format(time.DateOnly), "period_end": end.Format(time.DateOnly), "amount": rng.IntN(100000), "currency": "EUR"}
		res := client.Do(who, "POST", "/api/collections/quotas/records", body)
		mayWrite := who == testapp.Admin ||
			(who == testapp.ManagerA && (rep == testapp.UserRepA || rep == testapp.UserRepB)) ||
			(who == testapp.ManagerX && rep == testapp.UserRepX)
		switch {
		case !mayWrite:
			if res.Status < 400 || res.Status >= 500 {
				t.Fatalf("quota %d: %s sets a quota of %s: %d %s", i, who, rep, res.Status, res.Body)
			}
		case end.Before(start):
			if res.Status != 400 || !strings.Contains(res.Body, `"period_end"`) {
				t.Fatalf("quota %d: a period from %s to %s: %d %s", i, start.Format(time.DateOnly), end.Format(time.DateOnly), res.Status, res.Body)
			}
		case rep == testapp.UserManagerA: // an admin names a manager
			if res.Status != 400 || !strings.Contains(res.Body, `"rep"`) || !strings.Contains(res.Body, "quotas are for reps") {
				t.Fatalf("quota %d: a quota for a manager: %d %s", i, res.Status, res.Body)
			}
		default:
			if res.Status != 200 {
				t.Fatalf("quota %d: %s sets a quota of %s: %d %s", i, who, rep, res.Status, res.Body)
			}
		}
	}
	// the rep reads their own quotas and cannot move one
	var list struct {
		Items []struct{ ID, Rep string }
	}
	if res := client.Do(testapp.RepA, "GET", "/api/collections/quotas/records?perPage=500", nil); res.Status != 200 || json.Unmarshal([]byte(res.Body), &list) != nil {
		t.Fatalf("rep A lists quotas: %d %s", res.Status, res.Body)
	}
	if len(list.Items) == 0 {
		t.Fatal("rep A reads no quota of theirs")
	}
	for _, q := range list.Items {
		if q.Rep != testapp.UserRepA {
			t.Fatalf("rep A reads a quota of %s", q.Rep)
		}
	}
	res := client.Do(testapp.ManagerA, "PATCH", "/api/collections/quotas/records/"+list.Items[0].ID, M{"rep": testapp.UserRepX})
	if res.Status != 403 {
		t.Fatalf("manager A moves a quota to another team's rep: %d %s", res.Status, res.Body)
	}
}
