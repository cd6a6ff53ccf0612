package hooks_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/hooks"
	"rounds/internal/testapp"
)

func orderTotal(t *testing.T, app *tests.TestApp, id string) float64 {
	t.Helper()
	o, err := app.FindRecordById("orders", id)
	if err != nil {
		t.Fatal(err)
	}
	return o.GetFloat("total")
}

func TestLinePricingAndOrderTotals(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	lines := "/api/collections/order_lines/records"

	// fixture: OrderA holds 2 x coffee at 12.50
	if got := orderTotal(t, app, testapp.OrderA); got != 25 {
		t.Fatalf("fixture order total = %v, want 25", got)
	}

	res := client.Do(testapp.RepA, http.MethodPost, lines, M{"id": "newline00000001", "order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 3, "discount_pct": 10})
	if res.Status != 200 {
		t.Fatalf("create line: %d %s", res.Status, res.Body)
	}
	var line struct {
		UnitPrice float64 `json:"unit_price"`
		LineTotal float64 `json:"line_total"`
	}
	res.JSON(t, &line)
	if line.UnitPrice != 12.5 || line.LineTotal != 33.75 {
		t.Fatalf("line priced %v x 3 -10%% = %v, want 12.5 and 33.75", line.UnitPrice, line.LineTotal)
	}
	if got := orderTotal(t, app, testapp.OrderA); got != 58.75 {
		t.Fatalf("order total after a new line = %v, want 58.75", got)
	}

	// 0.10 x 3 must be exactly 0.30 in the total, not 0.30000000000000004
	res = client.Do(testapp.RepA, http.MethodPatch, lines+"/newline00000001", M{"product": testapp.ProductCups, "discount_pct": 0})
	if res.Status != 200 {
		t.Fatalf("update line: %d %s", res.Status, res.Body)
	}
	if got := orderTotal(t, app, testapp.OrderA); got != 25.30 {
		t.Fatalf("order total after repricing = %v, want 25.30", got)
	}

	res = client.Do(testapp.RepA, http.MethodDelete, lines+"/"+testapp.LineA, nil)
	if res.Status != 204 {
		t.Fatalf("delete line: %d %s", res.Status, res.Body)
	}
	if got := orderTotal(t, app, testapp.OrderA); got != 0.30 {
		t.Fatalf("order total after deleting a line = %v, want 0.30", got)
	}

	// an admin's dashboard edit of a total is recomputed from the lines
	res = client.Do(testapp.Admin, http.MethodPatch, "/api/collections/orders/records/"+testapp.OrderA, M{"total": 999})
	if res.Status != 200 {
		t.Fatalf("admin update: %d %s", res.Status, res.Body)
	}
	if got := orderTotal(t, app, testapp.OrderA); got != 0.30 {
		t.Fatalf("order total after an admin wrote 999 = %v, want 0.30", got)
	}

	// deleting an order takes its lines with it
	res = client.Do(testapp.RepA, http.MethodDelete, "/api/collections/orders/records/"+testapp.OrderA, nil)
	if res.Status != 204 {
		t.Fatalf("delete order: %d %s", res.Status, res.Body)
	}
	if n, _ := app.CountRecords("order_lines"); n != 2 { // LineB and LineASubmitted remain
		t.Fatalf("%d lines left, want 2", n)
	}
}

func TestOrderStatusMoves(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path []string // statuses applied in turn from draft
		ok   bool
	}{
		{[]string{"submitted", "confirmed", "fulfilled"}, true},
		{[]string{"cancelled"}, true},
		{[]string{"submitted", "cancelled"}, true},
		{[]string{"submitted", "confirmed", "cancelled"}, true},
		{[]string{"confirmed"}, false},
		{[]string{"fulfilled"}, false},
		{[]string{"submitted", "draft"}, false},
		{[]string{"submitted", "fulfilled"}, false},
		{[]string{"submitted", "confirmed", "fulfilled", "cancelled"}, false},
		{[]string{"cancelled", "draft"}, false},
		{[]string{"cancelled", "submitted"}, false},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.path, ">"), func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			var err error
			var last string
			for _, status := range tc.path {
				o, ferr := app.FindRecordById("orders", testapp.OrderA)
				if ferr != nil {
					t.Fatal(ferr)
				}
				o.Set("status", status)
				if err = app.Save(o); err != nil {
					last = status
					break
				}
			}
			if (err == nil) != tc.ok {
				t.Fatalf("moving along %v: err = %v, want ok=%v", tc.path, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), last) {
				t.Fatalf("error %q does not name the refused status %q", err, last)
			}
		})
	}

	t.Run("submitted_at is stamped with the server clock", func(t *testing.T) {
		t.Parallel()
		app := testapp.New(t)
		client := testapp.NewClient(t, app)
		res := client.Do(testapp.RepA, http.MethodPatch, "/api/collections/orders/records/"+testapp.OrderA, M{"status": "submitted"})
		if res.Status != 200 {
			t.Fatalf("submit: %d %s", res.Status, res.Body)
		}
		o, _ := app.FindRecordById("orders", testapp.OrderA)
		if got := o.GetDateTime("submitted_at").Time(); !got.Equal(testapp.Now) {
			t.Fatalf("submitted_at = %v, want %v", got, testapp.Now)
		}
		// once submitted, the rep can no longer touch it
		res = client.Do(testapp.RepA, http.MethodPatch, "/api/collections/orders/records/"+testapp.OrderA, M{"status": "cancelled"})
		if res.Status != 404 {
			t.Fatalf("rep cancelled a submitted order: %d %s", res.Status, res.Body)
		}
	})

	t.Run("the dashboard gets a 400 naming the move", func(t *testing.T) {
		t.Parallel()
		app := testapp.New(t)
		client := testapp.NewClient(t, app)
		res := client.Do(testapp.Admin, http.MethodPatch, "/api/collections/orders/records/"+testapp.OrderASubmitted, M{"status": "fulfilled"})
		if res.Status != 400 || !strings.Contains(res.Body, `\"submitted\" to \"fulfilled\"`) || !strings.Contains(res.Body, `"status"`) {
			t.Fatalf("got %d %s", res.Status, res.Body)
		}
	})
}

func TestVisitGeoStatusAndAuthor(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	// CustomerA is at 52.52, 13.405
	cases := []struct {
		id       string
		actor    string
		lat, lng any
		sent     string // geo_status an admin tries to impose
		want     string
	}{
		{"visitgeo0000001", testapp.RepA, 52.5205, 13.4055, "", "verified"},     // ~65 m
		{"visitgeo0000002", testapp.RepA, 52.5300, 13.4050, "", "far"},          // ~1.1 km
		{"visitgeo0000003", testapp.RepA, nil, nil, "", "unknown"},              // no position
		{"visitgeo0000004", testapp.Admin, 52.5300, 13.4050, "verified", "far"}, // even admins cannot fake it
	}
	for _, tc := range cases {
		body := M{"id": tc.id, "customer": testapp.CustomerA, "checked_in_at": "2026-03-02 10:00:00.000Z"}
		if tc.lat != nil {
			body["check_in_lat"], body["check_in_lng"] = tc.lat, tc.lng
		}
		if tc.sent != "" {
			body["geo_status"] = tc.sent
		}
		res := client.Do(tc.actor, http.MethodPost, "/api/collections/visits/records", body)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", tc.id, res.Status, res.Body)
		}
		v, err := app.FindRecordById("visits", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.GetString("geo_status"); got != tc.want {
			t.Errorf("%s: geo_status = %s, want %s", tc.id, got, tc.want)
		}
		if got := v.GetString("rep"); got != testapp.UserRepA {
			t.Errorf("%s: rep = %s, want the author (or, for an admin, the customer's owner) %s", tc.id, got, testapp.UserRepA)
		}
	}

	// moving the check-in recomputes the status
	v, _ := app.FindRecordById("visits", "visitgeo0000002")
	v.Set("check_in_lat", 52.5201)
	if err := app.Save(v); err != nil {
		t.Fatal(err)
	}
	if got := v.GetString("geo_status"); got != "verified" {
		t.Fatalf("after moving the check-in: %s, want verified", got)
	}
}

// TestInvalidInput sends malformed records and expects a 400 that names
// the problem, with nothing written.
func TestInvalidInput(t *testing.T) {
	t.Parallel()
	newID := "invalid00000001"
	cases := []struct {
		name       string
		actor      string
		method     string
		collection string
		id         string
		body       any
		mention    string
	}{
		{"birthday that does not exist", testapp.RepA, "POST", "contacts", newID, M{"customer": testapp.CustomerA, "name": "X", "birthday": "02-30"}, `month 02 has 29 days`},
		{"birthday in another format", testapp.RepA, "POST", "contacts", newID, M{"customer": testapp.CustomerA, "name": "X", "birthday": "1990-05-04"}, `"birthday"`},
		{"unknown time zone", testapp.RepA, "PATCH", "customers", testapp.CustomerA, M{"timezone": "Mars/Olympus"}, `not an IANA time zone`},
		{"latitude off the planet", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "check_in_lat": 91}, `"check_in_lat"`},
		{"latitude as text", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "check_in_lat": "north"}, `Must be a number, got \"north\"`},
		{"date that is not a date", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "planned_at": "next tuesday"}, `is not a date`},
		{"date in the year 9999", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "planned_at": "9999-01-01 00:00:00.000Z"}, `outside the years`},
		{"flag as a number", testapp.RepA, "PATCH", "contacts", testapp.ContactA, M{"care_opt_in": 7}, `Must be true or false`},
		{"name as an object", testapp.RepA, "PATCH", "customers", testapp.CustomerA, M{"name": M{"first": "x"}}, `Must be text, got an object`},
		{"id too short", testapp.RepA, "POST", "contacts", "abc", M{"customer": testapp.CustomerA, "name": "X"}, `"id"`},
		{"id with a slash", testapp.RepA, "POST", "contacts", "abcdefgh/ijklmnop", M{"customer": testapp.CustomerA, "name": "X"}, `"id"`},
		{"id already taken", testapp.RepA, "POST", "contacts", testapp.ContactA, M{"customer": testapp.CustomerA, "name": "X"}, `"id"`},
		{"missing name", testapp.RepA, "POST", "customers", newID, M{"phone": "+49 30 1"}, `"name"`},
		{"phone with letters", testapp.RepA, "POST", "customers", newID, M{"name": "X", "phone": "call me"}, `"phone"`},
		{"lowercase currency", testapp.RepA, "POST", "orders", newID, M{"customer": testapp.CustomerA, "currency": "eur"}, `"currency"`},
		{"zero quantity", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 0}, `"quantity"`},
		{"fractional quantity", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 1.5}, `"quantity"`},
		{"discount above 100", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 1, "discount_pct": 150}, `"discount_pct"`},
		{"product in another currency", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductUSD, "quantity": 1}, `priced in USD but the order is in EUR`},
		{"product no longer sold", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": testapp.ProductRetired, "quantity": 1}, `no longer sold`},
		{"unknown product", testapp.RepA, "POST", "order_lines", newID, M{"order": testapp.OrderA, "product": "doesnotexist000", "quantity": 1}, `"product"`},
		{"contact of another customer", testapp.RepA, "POST", "visits", newID, M{"customer": testapp.CustomerA, "contact": testapp.ContactB}, `belongs to another customer`},
		{"visit of another customer", testapp.RepA, "POST", "follow_ups", newID, M{"customer": testapp.CustomerA, "due_at": "2026-03-05 09:00:00.000Z", "visit": testapp.VisitB}, `belongs to another customer`},
		{"unknown follow-up status", testapp.RepA, "PATCH", "follow_ups", testapp.FollowUpA, M{"status": "maybe"}, `"status"`},
		{"follow-up without a due date", testapp.RepA, "POST", "follow_ups", newID, M{"customer": testapp.CustomerA}, `"due_at"`},
		{"malformed JSON", testapp.RepA, "POST", "customers", newID, `{"name": "X",`, ``},
		{"manager who is a rep", testapp.Admin, "PATCH", "users", testapp.UserRepA, M{"manager": testapp.UserRepB}, `is not a manager`},
		{"campaign on 31 April", testapp.Admin, "POST", "care_campaigns", newID, M{"name": "X", "date": "04-31", "title": "t", "body": "b"}, `month 04 has 30 days`},
		{"duplicate sku", testapp.Admin, "POST", "products", newID, M{"sku": "COFFEE-1KG", "name": "X", "currency": "EUR"}, `"sku"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			client := testapp.NewClient(t, app)
			url := "/api/collections/" + tc.collection + "/records"
			body := tc.body
			if m, ok := tc.body.(M); ok {
				copied := M{}
				for k, v := range m {
					copied[k] = v
				}
				if tc.method == "POST" {
					copied["id"] = tc.id
				}
				body = copied
			}
			if tc.method != "POST" {
				url += "/" + tc.id
			}
			before := snapshot(t, app, tc.collection, tc.id)
			beforeCount, _ := app.CountRecords(tc.collection)
			res := client.Do(tc.actor, tc.method, url, body)
			if res.Status != 400 || !strings.Contains(res.Body, tc.mention) {
				t.Fatalf("got %d %s, want 400 mentioning %s", res.Status, res.Body, tc.mention)
			}
			afterCount, _ := app.CountRecords(tc.collection)
			if after := snapshot(t, app, tc.collection, tc.id); after != before || afterCount != beforeCount {
				t.Fatalf("a refused request wrote something: %s -> %s, %d -> %d records", before, after, beforeCount, afterCount)
			}
		})
	}
}

func TestDeactivatedRepIsLockedOut(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	if res := client.Do(testapp.RepA, http.MethodGet, "/api/collections/customers/records", nil); res.Status != 200 {
		t.Fatalf("active rep: %d %s", res.Status, res.Body)
	}
	rep, _ := app.FindRecordById("users", testapp.UserRepA)
	rep.Set("active", false)
	if err := app.Save(rep); err != nil {
		t.Fatal(err)
	}
	res := client.Do(testapp.RepA, http.MethodGet, "/api/collections/customers/records", nil)
	if res.Status != 401 || !strings.Contains(res.Body, "deactivated") {
		t.Fatalf("deactivated rep with an old token: %d %s", res.Status, res.Body)
	}
	// the right password and a wrong one get the same answer: signing in
	// tells nothing about the password of a deactivated account
	res = client.Do(testapp.Anon, http.MethodPost, "/api/collections/users/auth-with-password", M{"identity": "rep.a@rounds.test", "password": testapp.Password})
	wrong := client.Do(testapp.Anon, http.MethodPost, "/api/collections/users/auth-with-password", M{"identity": "rep.a@rounds.test", "password": "not-the-password"})
	if res.Status != 400 || strings.Contains(res.Body, "token") || res != wrong {
		t.Fatalf("deactivated rep signed in: %d %s; with a wrong password: %d %s", res.Status, res.Body, wrong.Status, wrong.Body)
	}
}

func TestAuthTokensLastThirtyDays(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(users.AuthToken.Duration) * time.Second; got != 30*24*time.Hour {
		t.Fatalf("auth token lifetime %v, want 30 days", got)
	}
	if users.CreateRule != nil {
		t.Fatalf("public sign-up is open: create rule %q", *users.CreateRule)
	}
	client := testapp.NewClient(t, app)
	res := client.Do(testapp.Anon, http.MethodPost, "/api/collections/users/auth-with-password", M{"identity": "rep.a@rounds.test", "password": testapp.Password})
	if res.Status != 200 {
		t.Fatalf("sign-in: %d %s", res.Status, res.Body)
	}
	var auth struct{ Token string }
	res.JSON(t, &auth)
	r, err := app.FindAuthRecordByToken(auth.Token, core.TokenTypeAuth)
	if err != nil || r.Id != testapp.UserRepA {
		t.Fatalf("token from sign-in does not authenticate rep A: %v", err)
	}
}

func TestClientMadeIDs(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	for _, id := range []string{"Ab3dEf6hIj9kLm0p", "0b7e4c1a-5d2f-4e8b-9a3c-6f1d2e3b4a5c", "device_made_id_1"} {
		res := client.Do(testapp.RepA, http.MethodPost, "/api/collections/contacts/records", M{"id": id, "customer": testapp.CustomerA, "name": "X"})
		if res.Status != 200 {
			t.Errorf("id %s: %d %s", id, res.Status, res.Body)
		}
	}
	// and the server still makes ids when the client does not
	res := client.Do(testapp.RepA, http.MethodPost, "/api/collections/contacts/records", M{"customer": testapp.CustomerA, "name": "Y"})
	if res.Status != 200 {
		t.Fatalf("server-made id: %d %s", res.Status, res.Body)
	}
}

func TestFailedSignInsAreLimited(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	signIn := func(password string) testapp.Response {
		return client.Do(testapp.Anon, http.MethodPost, "/api/collections/users/auth-with-password", M{"identity": "rep.a@rounds.test", "password": password})
	}
	for i := 0; i < 15; i++ { // successes are not counted
		if res := signIn(testapp.Password); res.Status != 200 {
			t.Fatalf("sign-in %d: %d %s", i, res.Status, res.Body)
		}
	}
	for i := 0; i < hooks.FailedSignInLimit; i++ {
		if res := signIn("wrong password"); res.Status != 400 {
			t.Fatalf("failed sign-in %d: %d", i, res.Status)
		}
	}
	res := signIn(testapp.Password) // even the right password waits now
	if res.Status != 429 || !strings.Contains(res.Body, "Too many failed sign-ins") {
		t.Fatalf("after %d failures: %d %s", hooks.FailedSignInLimit, res.Status, res.Body)
	}
}

// TestOrderWithLinesKeepsItsCurrency: a draft order whose lines are priced
// in one currency cannot switch to another (its total would mix the two),
// over REST or through sync; an order without lines can.
func TestOrderWithLinesKeepsItsCurrency(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	res := client.Do(testapp.RepA, http.MethodPatch, "/api/collections/orders/records/"+testapp.OrderA, M{"currency": "USD"})
	if res.Status != 400 || !strings.Contains(res.Body, "currency") || !strings.Contains(res.Body, "line") {
		t.Fatalf("REST switch: %d %s", res.Status, res.Body)
	}
	push := M{"orders": M{"created": []any{}, "deleted": []any{}, "updated": []any{
		M{"id": testapp.OrderA, "customer": testapp.CustomerA, "currency": "USD", "status": "draft", "_status": "updated", "_changed": "currency"},
	}}}
	res = client.Do(testapp.RepA, http.MethodPost, "/api/sync/push?last_pulled_at=1000000", push)
	if res.Status != 200 || !strings.Contains(res.Body, testapp.OrderA) || !strings.Contains(res.Body, "currency") {
		t.Fatalf("sync switch: %d %s", res.Status, res.Body)
	}
	if o, _ := app.FindRecordById("orders", testapp.OrderA); o.GetString("currency") != "EUR" {
		t.Fatalf("the order switched to %s with EUR lines", o.GetString("currency"))
	}
	res = client.Do(testapp.RepA, http.MethodPost, "/api/collections/orders/records", M{"id": "emptyorder00001", "customer": testapp.CustomerA, "currency": "EUR"})
	if res.Status != 200 {
		t.Fatal(res.Body)
	}
	if res = client.Do(testapp.RepA, http.MethodPatch, "/api/collections/orders/records/emptyorder00001", M{"currency": "USD"}); res.Status != 200 {
		t.Fatalf("an order without lines: %d %s", res.Status, res.Body)
	}
}
