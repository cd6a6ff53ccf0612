package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	"rounds/internal/testapp"
)

// TestHandOverEndpoint: a manager hands a customer between two reps of
// their team; every other ask is refused with a status and a message that
// say why, and changes nothing.
func TestHandOverEndpoint(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	const path = "/api/manager/hand-over"
	ownerOf := func(customer string) string {
		r, err := app.FindRecordById(crm.Customers, customer)
		if err != nil {
			t.Fatal(err)
		}
		return r.GetString("owner")
	}
	for _, c := range []struct {
		name, actor string
		body        any
		status      int
		says        string
	}{
		{"anonymous", testapp.Anon, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepB}, 401, "Sign in"},
		{"the owner gives it away", testapp.RepA, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepB}, 403, "Only a sales manager"},
		{"not JSON", testapp.ManagerA, "customer=" + testapp.CustomerA, 400, "must be JSON"},
		{"no customer", testapp.ManagerA, map[string]string{"to": testapp.UserRepB}, 400, "Say which customers to hand over"},
		{"an empty set", testapp.ManagerA, map[string]any{"customers": []string{}, "to": testapp.UserRepB}, 400, "is empty: list the ids"},
		{"two ways at once", testapp.ManagerA, map[string]any{"customer": testapp.CustomerA, "from": testapp.UserRepA, "to": testapp.UserRepB}, 400, "not several"},
		{"a set with another team's customer", testapp.ManagerA, map[string]any{"customers": []string{testapp.CustomerA, testapp.CustomerX}, "to": testapp.UserRepB}, 404, "nothing was handed over"},
		{"all of another team's rep", testapp.ManagerA, map[string]any{"from": testapp.UserRepX, "to": testapp.UserRepB}, 404, "holds no customer of your team"},
		{"all of a rep, to that rep", testapp.ManagerA, map[string]any{"from": testapp.UserRepA, "to": testapp.UserRepA}, 403, "already belongs"},
		{"no rep", testapp.ManagerA, map[string]string{"customer": testapp.CustomerA}, 400, "is required: the id of the rep"},
		{"another team's customer", testapp.ManagerA, map[string]string{"customer": testapp.CustomerX, "to": testapp.UserRepB}, 404, "not found"},
		{"a customer that does not exist", testapp.ManagerA, map[string]string{"customer": "nosuchcustomer1", "to": testapp.UserRepB}, 404, "not found"},
		{"to another team's rep", testapp.ManagerA, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepX}, 403, "not an active rep of your team"},
		{"to its owner", testapp.ManagerA, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepA}, 403, "already belongs"},
		{"to a manager", testapp.ManagerA, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserManagerA}, 403, "not an active rep"},
		{"the other manager", testapp.ManagerX, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepX}, 404, "not found"},
	} {
		res := client.Do(c.actor, http.MethodPost, path, c.body)
		if res.Status != c.status || !strings.Contains(res.Body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, res.Status, res.Body, c.status, c.says)
		}
		if got := ownerOf(testapp.CustomerA); got != testapp.UserRepA {
			t.Fatalf("%s: refused, yet customer A now belongs to %s", c.name, got)
		}
	}

	// the manager hands A's customer to B: the open follow-up goes with it,
	// the timeline says who did it, B is told by push
	res := client.Do(testapp.ManagerA, http.MethodPost, path, map[string]string{"customer": testapp.CustomerA, "to": testapp.UserRepB})
	if res.Status != 200 || !strings.Contains(res.Body, `"owner":"`+testapp.UserRepB+`"`) {
		t.Fatalf("hand-over: %d %s", res.Status, res.Body)
	}
	if got := ownerOf(testapp.CustomerA); got != testapp.UserRepB {
		t.Fatalf("customer A belongs to %s after the hand-over", got)
	}
	f, err := app.FindRecordById(crm.FollowUps, testapp.FollowUpA)
	if err != nil || f.GetString("assignee") != testapp.UserRepB {
		t.Errorf("A's open follow-up stays with %s", f.GetString("assignee"))
	}
	events, err := app.FindAllRecords(crm.CustomerEvents, dbx.HashExp{"customer": testapp.CustomerA, "kind": crm.EventOwnerChange})
	if err != nil || len(events) != 1 || events[0].GetString("user") != testapp.UserManagerA {
		t.Errorf("the timeline's owner change: %d events, want one by the manager", len(events))
	}
	told, err := app.FindAllRecords(crm.Notifications, dbx.HashExp{"user": testapp.UserRepB, "kind": "follow_ups_handed_over"})
	if err != nil || len(told) != 1 {
		t.Errorf("rep B was told %d times of the follow-ups handed over, want once", len(told))
	}

	// a superuser hands any customer to any active rep; the office did it
	res = client.Do(testapp.Admin, http.MethodPost, path, map[string]string{"customer": testapp.CustomerX, "to": testapp.UserRepA})
	if res.Status != 200 || ownerOf(testapp.CustomerX) != testapp.UserRepA {
		t.Fatalf("superuser's hand-over: %d %s", res.Status, res.Body)
	}
	events, _ = app.FindAllRecords(crm.CustomerEvents, dbx.HashExp{"customer": testapp.CustomerX, "kind": crm.EventOwnerChange})
	if len(events) != 1 || events[0].GetString("user") != "" {
		t.Errorf("the superuser's owner change: %d events, user %q", len(events), events[0].GetString("user"))
	}
}

// TestManagersPageIsServed: the page comes from the binary, with a content
// policy that allows its own files and API only.
func TestManagersPageIsServed(t *testing.T) {
	t.Parallel()
	client := testapp.NewClient(t, testapp.New(t))
	for _, c := range []struct {
		path   string
		status int
		says   string
	}{
		{"/manager", 301, ""},
		{"/manager/", 200, `<script src="app.js" defer></script>`},
		{"/manager/app.js", 200, "pocketbase_auth"},
		{"/manager/app.css", 200, ".card"},
		{"/manager/nothing.js", 404, ""},
		{"/manager/../pb_data/data.db", 307, ""}, // to the cleaned path, outside the page
	} {
		res := client.Do(testapp.Anon, http.MethodGet, c.path, nil)
		if res.Status != c.status || !strings.Contains(res.Body, c.says) {
			t.Errorf("GET %s: %d, want %d with %q", c.path, res.Status, c.status, c.says)
		}
	}
}
