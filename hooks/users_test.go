package hooks_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
)

// TestDeletingAUserWhoHoldsWork: a user who owns customers or holds open
// follow-ups is not deleted; the 400 says how many of each and what to do
// (hand over, or deactivate), and nothing is removed. One named only by the
// history (done follow-ups) is told to deactivate instead; one with nothing
// is deleted. Users and their work are drawn from a seed.
func TestDeletingAUserWhoHoldsWork(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	rng := rand.New(rand.NewPCG(27, 3))
	save := func(collection string, data map[string]any) string {
		c, _ := app.FindCollectionByNameOrId(collection)
		r := core.NewRecord(c)
		r.Load(data)
		if collection == crm.Users {
			r.SetPassword("a-password-1234")
		}
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	cases := map[string]int{}
	for i := range 16 {
		rep := save(crm.Users, map[string]any{"email": fmt.Sprintf("leaver%d@rounds.test", i), "name": fmt.Sprintf("Leaver %d", i), "role": "rep", "active": true})
		customers, open, done := rng.IntN(3), 0, 0
		for range customers {
			save(crm.Customers, map[string]any{"name": "Shop", "owner": rep})
		}
		// follow-ups the rep holds on another rep's customer (assigned by hand)
		for range rng.IntN(3) {
			status := []string{"open", "done"}[rng.IntN(2)]
			if status == "open" {
				open++
			} else {
				done++
			}
			id := save(crm.FollowUps, map[string]any{"customer": testapp.CustomerB, "note": "call", "status": status, "due_at": testapp.Now})
			f, _ := app.FindRecordById(crm.FollowUps, id)
			f.Set("assignee", rep)
			if err := app.SaveNoValidate(f); err != nil {
				t.Fatal(err)
			}
		}
		res := client.Do(testapp.Admin, http.MethodDelete, "/api/collections/users/records/"+rep, nil)
		if customers == 0 && open == 0 && done == 0 {
			if res.Status != 204 {
				t.Fatalf("user %d with no work: %d %s", i, res.Status, res.Body)
			}
			cases["deleted"]++
			continue
		}
		want := fmt.Sprintf("owns %d customer%s and holds %d open follow-up%s", customers, map[bool]string{true: "s"}[customers != 1], open, map[bool]string{true: "s"}[open != 1])
		cases["hand over"]++
		if customers == 0 && open == 0 {
			want = fmt.Sprintf("is named in the shared history (%d follow ups)", done)
			cases["history"]++
		}
		if res.Status != 400 || !strings.Contains(res.Body, want) || !strings.Contains(res.Body, "deactivate the account") {
			t.Fatalf("user %d (%d customers, %d open): %d %s", i, customers, open, res.Status, res.Body)
		}
		if _, err := app.FindRecordById(crm.Users, rep); err != nil {
			t.Fatalf("user %d was deleted after all", i)
		}
		if n, _ := app.CountRecords(crm.Customers, dbx.HashExp{"owner": rep}); int(n) != customers {
			t.Fatalf("user %d: %d customers left of %d", i, n, customers)
		}
		// deactivating is the way out, and it works
		if res := client.Do(testapp.Admin, http.MethodPatch, "/api/collections/users/records/"+rep, map[string]any{"active": false}); res.Status != 200 {
			t.Fatalf("deactivating user %d: %d %s", i, res.Status, res.Body)
		}
	}
	if cases["deleted"] == 0 || cases["history"] == 0 || cases["hand over"] == cases["history"] {
		t.Fatalf("the draws missed a case: %v", cases)
	}
}
