package hooks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"rounds/internal/testapp"
)

// TestRepCannotForge sends, as rep A, values a rep may not set. Every one
// is refused with a 4xx that names the field, and nothing is written.
func TestRepCannotForge(t *testing.T) {
	t.Parallel()
	newID := "forged000000001"
	cases := []struct {
		name       string
		actor      string
		method     string
		collection string
		id         string // target of an update, or the id of a create
		body       M
		status     int
		mention    string
	}{
		{"customer owned by someone else", testapp.RepA, "POST", "customers", newID, M{"name": "X", "owner": testapp.UserRepB}, 403, "customers.owner"},
		{"customer with a tier", testapp.RepA, "POST", "customers", newID, M{"name": "X", "tier": "A"}, 403, "customers.tier"},
		{"customer given away", testapp.RepA, "PATCH", "customers", testapp.CustomerA, M{"owner": testapp.UserRepB}, 403, "customers.owner"},
		{"customer promoted", testapp.RepA, "PATCH", "customers", testapp.CustomerA, M{"tier": "C"}, 403, "customers.tier"},
		{"visit in someone else's name", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "rep": testapp.UserRepB}, 403, "visits.rep"},
		{"visit pre-verified", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "geo_status": "verified"}, 403, "visits.geo_status"},
		{"visit handed to another rep", testapp.RepA, "PATCH", "visits", testapp.VisitA, M{"rep": testapp.UserRepB}, 403, "visits.rep"},
		{"visit re-verified", testapp.RepA, "PATCH", "visits", testapp.VisitA, M{"geo_status": "far"}, 403, "visits.geo_status"},
		{"visit moved to another customer", testapp.RepA, "PATCH", "visits", testapp.VisitA, M{"customer": testapp.CustomerB}, 403, "visits.customer"},
		{"visit on another rep's customer", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerB}, 400, "Failed to create"},
		{"order on another rep's customer", testapp.RepA, "POST", "orders", newID, M{"customer": testapp.CustomerB, "currency": "EUR"}, 400, "Failed to create"},
		{"order with a total", testapp.RepA, "POST", "orders", newID, M{"customer": testapp.CustomerA, "currency": "EUR", "total": 1}, 403, "orders.total"},
		{"order in someone else's name", testapp.RepA, "POST", "orders", newID, M{"customer": testapp.CustomerA, "currency": "EUR", "rep": testapp.UserRepB}, 403, "orders.rep"},
		{"order total rewritten", testapp.RepA, "PATCH", "orders", testapp.OrderA, M{"total": 1}, 403, "orders.total"},
		{"order confirmed by a rep", testapp.RepA, "PATCH", "orders", testapp.OrderA, M{"status": "confirmed"}, 403, "confirmed"},
		{"order created fulfilled", testapp.RepA, "POST", "orders", newID, M{"customer": testapp.CustomerA, "currency": "EUR", "status": "fulfilled"}, 403, "fulfilled"},
		{"order moved to another customer", testapp.RepA, "PATCH", "orders", testapp.OrderA, M{"customer": testapp.CustomerB}, 403, "orders.customer"},
		{"order backdated submission", testapp.RepA, "PATCH", "orders", testapp.OrderA, M{"submitted_at": "2020-01-01 00:00:00.000Z"}, 403, "orders.submitted_at"},
		{"line with own price", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 1, "unit_price": 0.01}, 403, "order_lines.unit_price"},
		{"line with own total", testapp.RepA, "PATCH", "order_lines", testapp.LineA, M{"line_total": 1}, 403, "order_lines.line_total"},
		{"line moved to another order", testapp.RepA, "PATCH", "order_lines", testapp.LineA, M{"order": testapp.OrderASubmitted}, 403, "order_lines.order"},
		{"line on another rep's order", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderB, "product": testapp.ProductCoffee, "quantity": 1}, 400, "Failed to create"},
		{"follow-up for another rep", testapp.RepA, "POST", "follow_ups", newID, M{"customer": testapp.CustomerA, "due_at": "2026-03-05 09:00:00.000Z", "assignee": testapp.UserRepB}, 403, "follow_ups.assignee"},
		{"rep promotes self", testapp.RepA, "PATCH", "users", testapp.UserRepA, M{"role": "manager"}, 403, "users.role"},
		{"rep changes manager", testapp.RepA, "PATCH", "users", testapp.UserRepA, M{"manager": testapp.UserManagerX}, 403, "users.manager"},
		{"rep deactivates self", testapp.RepA, "PATCH", "users", testapp.UserRepA, M{"active": false}, 403, "users.active"},
		{"device of another rep", testapp.RepA, "POST", "devices", newID, M{"user": testapp.UserRepB, "token": "t"}, 403, "devices.user"},
		{"device handed to another rep", testapp.RepA, "PATCH", "devices", testapp.DeviceA, M{"user": testapp.UserRepB}, 403, "devices.user"},
		{"follow-up handed to another rep", testapp.RepA, "PATCH", "follow_ups", testapp.FollowUpA, M{"assignee": testapp.UserRepB}, 403, "follow_ups.assignee"},
		{"contact opted out by a rep", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"care_opt_in": false}, 403, "contacts.care_opt_in"},
		{"contact created opted in", testapp.RepA, "POST", "contacts", newID, M{"customer": testapp.CustomerA, "name": "X", "care_opt_in": true}, 403, "contacts.care_opt_in"},
		{"consent forged", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"consent_at": "2026-01-01 00:00:00.000Z", "consent_method": "said so"}, 403, "contacts.consent_"},
		{"opt-out forged", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"opted_out_at": "2026-01-01 00:00:00.000Z"}, 403, "contacts.opted_out_at"},
		{"weekly maximum raised", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"weekly_max": 50}, 403, "contacts.weekly_max"},
		{"quiet hours removed", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"quiet_start": "01:00", "quiet_end": "02:00"}, 403, "contacts.quiet_"},
		{"manager writes into a rep's scope", testapp.ManagerA, "PATCH", "customers", testapp.CustomerA, M{"name": "Mine now"}, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			client := testapp.NewClient(t, app)
			before := snapshot(t, app, tc.collection, tc.id)

			url := "/api/collections/" + tc.collection + "/records"
			body := M{}
			for k, v := range tc.body {
				body[k] = v
			}
			if tc.method == "POST" {
				body["id"] = tc.id
			} else {
				url += "/" + tc.id
			}
			res := client.Do(tc.actor, tc.method, url, body)
			if res.Status != tc.status || !strings.Contains(res.Body, tc.mention) {
				t.Fatalf("got %d %s, want %d mentioning %q", res.Status, res.Body, tc.status, tc.mention)
			}
			if after := snapshot(t, app, tc.collection, tc.id); after != before {
				t.Fatalf("refused request changed the record:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("owner and rep equal to the caller are accepted", func(t *testing.T) {
		t.Parallel()
		app := testapp.New(t)
		client := testapp.NewClient(t, app)
		res := client.Do(testapp.RepA, http.MethodPost, "/api/collections/customers/records",
			M{"id": newID, "name": "Mine", "owner": testapp.UserRepA})
		if res.Status != 200 {
			t.Fatalf("got %d %s", res.Status, res.Body)
		}
		res = client.Do(testapp.RepA, http.MethodPost, "/api/collections/visits/records",
			M{"id": "forgedvisit0001", "customer": newID, "rep": testapp.UserRepA})
		if res.Status != 200 {
			t.Fatalf("got %d %s", res.Status, res.Body)
		}
	})
}

// snapshot renders a record (or its absence) for before/after comparison.
func snapshot(t *testing.T, app *tests.TestApp, collection, id string) string {
	t.Helper()
	r, err := app.FindRecordById(collection, id)
	if err != nil {
		return "absent"
	}
	data, err := json.Marshal(r.FieldsData())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
