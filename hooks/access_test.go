package hooks_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"rounds/internal/testapp"
)

type M = map[string]any

// actors in the order the matrix lists them; the superuser is a control:
// it proves that every allowed path of the test can actually pass.
var actors = []string{testapp.Anon, testapp.RepA, testapp.RepB, testapp.ManagerA, testapp.ManagerX, testapp.Admin}

func only(actors ...string) []string { return append(actors, testapp.Admin) }

var readers = only(testapp.RepA, testapp.ManagerA)

type accessCase struct {
	collection string
	action     string // list, view, create, update, delete
	id         string // target (for create: the id given to the new record)
	body       M
	field      string // for update: the field whose new value proves the write
	allowed    []string
	adminExtra M // added to a superuser's body (admins name what the server assigns for reps)
}

// TestAccessMatrix checks every collection × action × actor against the
// API rules and access hooks. "allowed" means the action took effect;
// everyone else must get a 4xx and leave the data as it was.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	const (
		list, view, create, update, del = "list", "view", "create", "update", "delete"
	)
	newID := "newrecord000001"
	cases := []accessCase{
		{"customers", list, testapp.CustomerA, nil, "", readers, nil},
		{"customers", view, testapp.CustomerA, nil, "", readers, nil},
		{"customers", create, newID, M{"name": "New shop"}, "", only(testapp.RepA, testapp.RepB), M{"owner": testapp.UserRepB}},
		{"customers", update, testapp.CustomerA, M{"name": "Renamed"}, "name", only(testapp.RepA), nil},
		{"customers", del, testapp.CustomerA, nil, "", only(), nil},

		{"contacts", list, testapp.ContactA, nil, "", readers, nil},
		{"contacts", view, testapp.ContactA, nil, "", readers, nil},
		{"contacts", create, newID, M{"customer": testapp.CustomerA, "name": "New person"}, "", only(testapp.RepA), nil},
		{"contacts", update, testapp.ContactA, M{"title": "Buyer"}, "title", only(testapp.RepA), nil},
		{"contacts", del, testapp.ContactA, nil, "", only(testapp.RepA), nil},

		{"visits", list, testapp.VisitA, nil, "", readers, nil},
		{"visits", view, testapp.VisitA, nil, "", readers, nil},
		{"visits", create, newID, M{"customer": testapp.CustomerA, "purpose": "restock"}, "", only(testapp.RepA), nil},
		{"visits", update, testapp.VisitA, M{"outcome": "ordered"}, "outcome", only(testapp.RepA), nil},
		{"visits", del, testapp.VisitA, nil, "", only(testapp.RepA), nil},

		{"follow_ups", list, testapp.FollowUpA, nil, "", readers, nil},
		{"follow_ups", view, testapp.FollowUpA, nil, "", readers, nil},
		{"follow_ups", create, newID, M{"customer": testapp.CustomerA, "due_at": "2026-03-05 09:00:00.000Z", "note": "call"}, "", only(testapp.RepA), nil},
		{"follow_ups", update, testapp.FollowUpA, M{"status": "done"}, "status", only(testapp.RepA), nil},
		{"follow_ups", del, testapp.FollowUpA, nil, "", only(testapp.RepA), nil},

		{"orders", list, testapp.OrderA, nil, "", readers, nil},
		{"orders", view, testapp.OrderA, nil, "", readers, nil},
		{"orders", create, newID, M{"customer": testapp.CustomerA, "currency": "EUR"}, "", only(testapp.RepA), nil},
		{"orders", update, testapp.OrderA, M{"notes": "deliver Monday"}, "notes", only(testapp.RepA), nil},
		{"orders", update, testapp.OrderASubmitted, M{"notes": "too late"}, "notes", only(), nil}, // frozen past draft
		{"orders", del, testapp.OrderA, nil, "", only(testapp.RepA), nil},
		{"orders", del, testapp.OrderASubmitted, nil, "", only(), nil},

		{"order_lines", list, testapp.LineA, nil, "", readers, nil},
		{"order_lines", view, testapp.LineA, nil, "", readers, nil},
		{"order_lines", create, newID, M{"order": testapp.OrderA, "product": testapp.ProductCups, "quantity": 5}, "", only(testapp.RepA), nil},
		{"order_lines", create, newID, M{"order": testapp.OrderASubmitted, "product": testapp.ProductCups, "quantity": 5}, "", only(), nil},
		{"order_lines", update, testapp.LineA, M{"quantity": 7}, "quantity", only(testapp.RepA), nil},
		{"order_lines", update, testapp.LineASubmitted, M{"quantity": 7}, "quantity", only(), nil},
		{"order_lines", del, testapp.LineA, nil, "", only(testapp.RepA), nil},
		{"order_lines", del, testapp.LineASubmitted, nil, "", only(), nil},

		{"products", list, testapp.ProductCoffee, nil, "", only(testapp.RepA, testapp.RepB, testapp.ManagerA, testapp.ManagerX), nil},
		{"products", view, testapp.ProductCoffee, nil, "", only(testapp.RepA, testapp.RepB, testapp.ManagerA, testapp.ManagerX), nil},
		{"products", view, testapp.ProductRetired, nil, "", only(), nil},
		{"products", create, "productnew00001", M{"sku": "NEW-1", "name": "New", "unit_price": 1, "currency": "EUR", "active": true}, "", only(), nil},
		{"products", update, testapp.ProductCoffee, M{"unit_price": 1}, "unit_price", only(), nil},
		{"products", del, testapp.ProductRetired, nil, "", only(), nil},

		{"users", list, testapp.UserRepA, nil, "", readers, nil},
		{"users", view, testapp.UserRepA, nil, "", readers, nil},
		{"users", create, "usernew00000001", M{"email": "new@rounds.test", "password": "12345678", "passwordConfirm": "12345678", "role": "rep", "active": true}, "", only(), nil},
		{"users", update, testapp.UserRepA, M{"name": "Rep A Renamed"}, "name", only(testapp.RepA), nil},
		{"users", del, testapp.UserManagerX, nil, "", only(), nil},

		{"devices", list, testapp.DeviceA, nil, "", only(testapp.RepA), nil},
		{"devices", view, testapp.DeviceA, nil, "", only(testapp.RepA), nil},
		{"devices", create, "devicenew000001", M{"user": testapp.UserRepA, "token": "fcm-new", "platform": "ios"}, "", only(testapp.RepA), nil},
		{"devices", update, testapp.DeviceA, M{"app_version": "2.0"}, "app_version", only(testapp.RepA), nil},
		{"devices", del, testapp.DeviceA, nil, "", only(testapp.RepA), nil},
	}
	// Superuser-only collections: nobody but admins, whatever the action.
	for _, c := range []struct {
		collection, id, field string
		create                M
	}{
		{"notifications", testapp.Notification, "title", M{"kind": "x", "audience": "rep", "dedup_key": "k1", "status": "pending"}},
		{"sync_conflicts", testapp.Conflict, "rule", M{"collection": "customers", "record_id": testapp.CustomerA}},
		{"care_campaigns", testapp.Campaign, "title", M{"name": "X", "date": "05-01", "title": "t", "body": "b"}},
		{"contact_devices", testapp.ContactDevice, "platform", M{"contact": testapp.ContactA, "token": "fcm-x"}},
	} {
		updateValue := any("changed")
		if c.field == "platform" {
			updateValue = "android"
		}
		cases = append(cases,
			accessCase{c.collection, list, c.id, nil, "", only(), nil},
			accessCase{c.collection, view, c.id, nil, "", only(), nil},
			accessCase{c.collection, create, "superonly000001", c.create, "", only(), nil},
			accessCase{c.collection, update, c.id, M{c.field: updateValue}, c.field, only(), nil},
			accessCase{c.collection, del, c.id, nil, "", only(), nil},
		)
	}

	for _, tc := range cases {
		for _, actor := range actors {
			name := fmt.Sprintf("%s/%s %s/%s", tc.collection, tc.action, tc.id, actor)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				app := testapp.New(t)
				client := testapp.NewClient(t, app)
				want := slices.Contains(tc.allowed, actor)
				base := "/api/collections/" + tc.collection + "/records"

				exists := func() bool {
					r, err := app.FindRecordById(tc.collection, tc.id)
					return err == nil && r != nil
				}

				var res testapp.Response
				var took bool
				switch tc.action {
				case list:
					res = client.Do(actor, http.MethodGet, base+"?perPage=500", nil)
					took = res.Status == 200 && strings.Contains(res.Body, `"`+tc.id+`"`)
				case view:
					res = client.Do(actor, http.MethodGet, base+"/"+tc.id, nil)
					took = res.Status == 200 && strings.Contains(res.Body, `"`+tc.id+`"`)
				case create:
					body := M{"id": tc.id}
					for k, v := range tc.body {
						body[k] = v
					}
					if actor == testapp.Admin {
						for k, v := range tc.adminExtra {
							body[k] = v
						}
					}
					res = client.Do(actor, http.MethodPost, base, body)
					took = exists()
					if took != (res.Status == 200) {
						t.Fatalf("status %d but record exists=%v: %s", res.Status, took, res.Body)
					}
				case update:
					before, err := app.FindRecordById(tc.collection, tc.id)
					if err != nil {
						t.Fatal(err)
					}
					res = client.Do(actor, http.MethodPatch, base+"/"+tc.id, tc.body)
					after, err := app.FindRecordById(tc.collection, tc.id)
					if err != nil {
						t.Fatal(err)
					}
					took = fmt.Sprint(after.Get(tc.field)) != fmt.Sprint(before.Get(tc.field))
					if took != (res.Status == 200) {
						t.Fatalf("status %d but %s changed=%v: %s", res.Status, tc.field, took, res.Body)
					}
				case del:
					res = client.Do(actor, http.MethodDelete, base+"/"+tc.id, nil)
					took = !exists()
					if took != (res.Status == 204) {
						t.Fatalf("status %d but deleted=%v: %s", res.Status, took, res.Body)
					}
				}
				if res.Status >= 500 {
					t.Fatalf("server error %d: %s", res.Status, res.Body)
				}
				if !took && tc.action != list && (res.Status < 400 || res.Status >= 500) {
					t.Fatalf("denied without a 4xx: %d %s", res.Status, res.Body)
				}
				if took != want {
					t.Fatalf("%s %s %s: took effect=%v, want %v (status %d: %s)", actor, tc.action, tc.collection, took, want, res.Status, res.Body)
				}
			})
		}
	}
}
