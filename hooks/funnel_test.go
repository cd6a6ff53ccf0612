package hooks_test

import (
	"testing"

	"rounds/crm"
	"rounds/internal/testapp"
)

// TestDealHistoryOverREST: over REST (a rep) and the dashboard (a
// superuser), every change of stage, amount or expected close adds a line
// of history in the same request, by whoever made it ("" for the office);
// a note does not; a rep cannot set the server's fields.
func TestDealHistoryOverREST(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	st := crm.DefaultStages
	do := func(actor, method, url string, body map[string]any, want int) {
		t.Helper()
		if res := client.Do(actor, method, url, body); res.Status != want {
			t.Fatalf("%s %s %s: %d %s, want %d", actor, method, url, res.Status, res.Body, want)
		}
	}
	const url = "/api/collections/opportunities/records/"
	do(testapp.RepA, "POST", "/api/collections/opportunities/records", map[string]any{"id": "restdeal0000001", "customer": testapp.CustomerA,
		"title": "Shelf extension", "amount": 1000, "currency": "EUR", "stage": st[0].ID}, 200)
	do(testapp.RepA, "PATCH", url+"restdeal0000001", map[string]any{"notes": "called the owner"}, 200)
	do(testapp.RepA, "PATCH", url+"restdeal0000001", map[string]any{"stage": st[2].ID}, 200)
	do(testapp.RepA, "PATCH", url+"restdeal0000001", map[string]any{"probability": 99}, 403)
	do(testapp.RepB, "PATCH", url+"restdeal0000001", map[string]any{"stage": st[3].ID}, 404)
	do(testapp.Admin, "PATCH", url+"restdeal0000001", map[string]any{"amount": 1500}, 200)
	do(testapp.RepA, "PATCH", url+"restdeal0000001", map[string]any{"stage": st[5].ID}, 400) // lost needs a reason
	do(testapp.RepA, "PATCH", url+"restdeal0000001", map[string]any{"stage": st[5].ID, "lost_reason": "price"}, 200)

	var lines []struct {
		Stage  string  `db:"stage"`
		Amount float64 `db:"amount"`
		User   string  `db:"user"`
		Left   string  `db:"left_at"`
	}
	if err := app.DB().NewQuery("SELECT stage, amount, user, left_at FROM opportunity_history WHERE opportunity = 'restdeal0000001' ORDER BY rowid").All(&lines); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stage  string
		amount float64
		user   string
	}{{st[0].ID, 1000, testapp.UserRepA}, {st[2].ID, 1000, testapp.UserRepA}, {st[2].ID, 1500, ""}, {st[5].ID, 1500, testapp.UserRepA}}
	if len(lines) != len(want) {
		t.Fatalf("history: %+v", lines)
	}
	for i, w := range want {
		if lines[i].Stage != w.stage || lines[i].Amount != w.amount || lines[i].User != w.user || (lines[i].Left == "") != (i == len(want)-1) {
			t.Fatalf("history line %d: %+v, want %+v", i, lines[i], w)
		}
	}
	d, _ := app.FindRecordById(crm.Opportunities, "restdeal0000001")
	if d.GetString("owner") != testapp.UserRepA || d.GetDateTime("closed_at").IsZero() || d.GetFloat("weighted_amount") != 0 {
		t.Fatalf("the lost deal: %v", d.FieldsData())
	}
	// the history is read by whoever reads the deal
	var n int
	_ = app.DB().NewQuery("SELECT COUNT(*) FROM opportunity_history").Row(&n)
	for actor, want := range map[string]int{testapp.RepA: 4, testapp.ManagerA: 4, testapp.RepB: 0, testapp.ManagerX: 0, testapp.Anon: 0} {
		res := client.Do(actor, "GET", "/api/collections/opportunity_history/records?filter="+"opportunity%3D%27restdeal0000001%27", nil)
		var page struct{ TotalItems int }
		res.JSON(t, &page)
		if page.TotalItems != want {
			t.Errorf("%s reads %d lines of history, want %d (%d in all)", actor, page.TotalItems, want, n)
		}
	}
}
