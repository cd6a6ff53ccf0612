package hooks_test

import (
	"net/url"
	"strings"
	"testing"

	"rounds/care"
	"rounds/internal/testapp"
)

// customer is the actor holding contact A's preferences link.
const customer = "customer (contact A's link)"

// TestEndpointMatrix checks the custom endpoints (sync, devices, care) for
// every actor: who gets in, and that nothing of another territory leaks.
// (The collections' REST API is TestAccessMatrix.)
func TestEndpointMatrix(t *testing.T) {
	t.Parallel()
	linkA := url.QueryEscape(issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL))
	type expect struct {
		status   int
		contains []string
		absent   []string
	}
	notA := []string{testapp.CustomerA, testapp.ContactA, testapp.VisitA}
	notB := []string{testapp.CustomerB, testapp.ContactB, testapp.VisitB}
	pushVisit := `{"visits":{"created":[{"id":"matrixvisit0001","customer":"` + testapp.CustomerA + `"}]}}`
	cases := []struct {
		name, method, path string
		body               any
		want               map[string]expect
		written            map[string]bool // for pushes: whether matrixvisit0001 exists afterwards
	}{
		{"sync pull", "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, map[string]expect{
			testapp.Anon:     {status: 401},
			testapp.RepA:     {status: 200, contains: []string{testapp.CustomerA, testapp.VisitA}, absent: notB},
			testapp.RepB:     {status: 200, contains: []string{testapp.CustomerB}, absent: notA},
			testapp.ManagerA: {status: 403, contains: []string{"Sync is for reps"}, absent: append(notA, notB...)},
			testapp.ManagerX: {status: 403, contains: []string{"Sync is for reps"}, absent: append(notA, notB...)},
			customer:         {status: 401},
		}, nil},
		{"sync push into A's territory", "POST", "/api/sync/push?last_pulled_at=1000000", pushVisit, map[string]expect{
			testapp.Anon:     {status: 401},
			testapp.RepA:     {status: 200},
			testapp.RepB:     {status: 200, contains: []string{"not in your scope"}},
			testapp.ManagerA: {status: 403, contains: []string{"Sync is for reps"}},
			testapp.ManagerX: {status: 403, contains: []string{"Sync is for reps"}},
			customer:         {status: 401},
		}, map[string]bool{testapp.RepA: true}},
		{"sync schema", "GET", "/api/sync/schema", nil, map[string]expect{
			testapp.Anon: {status: 200}, testapp.RepA: {status: 200}, testapp.RepB: {status: 200},
			testapp.ManagerA: {status: 200}, testapp.ManagerX: {status: 200}, customer: {status: 200},
		}, nil},
		{"register a phone token", "POST", "/api/devices", M{"token": "matrix-token"}, map[string]expect{
			testapp.Anon: {status: 401}, testapp.RepA: {status: 200}, testapp.RepB: {status: 200},
			testapp.ManagerA: {status: 200}, testapp.ManagerX: {status: 200}, customer: {status: 401},
		}, nil},
		{"remove rep A's phone", "DELETE", "/api/devices/fcm-token-a", nil, map[string]expect{
			testapp.Anon: {status: 401}, testapp.RepA: {status: 204}, testapp.RepB: {status: 404},
			testapp.ManagerA: {status: 404}, testapp.ManagerX: {status: 404}, customer: {status: 401},
		}, nil},
		{"invite contact A", "POST", "/api/care/invites", M{"contact": testapp.ContactA}, map[string]expect{
			testapp.Anon: {status: 401}, testapp.RepA: {status: 200, contains: []string{"token"}}, testapp.RepB: {status: 404},
			testapp.ManagerA: {status: 404}, testapp.ManagerX: {status: 404}, customer: {status: 401},
		}, nil},
		{"contact A's preferences", "GET", "/api/care/preferences?token=" + linkA, nil, map[string]expect{
			// the link is the credential: whoever holds it sees contact A's choices, and only those
			testapp.Anon: {status: 200, contains: []string{"Contact of userrepa0000001"}, absent: []string{"userrepb"}},
			customer:     {status: 200, contains: []string{"Contact of userrepa0000001"}, absent: []string{"userrepb"}},
		}, nil},
		{"contacts through REST with a customer's link", "GET", "/api/collections/contacts/records", nil, map[string]expect{
			// not a PocketBase token: treated as anonymous, which sees nothing
			customer: {status: 200, contains: []string{`"totalItems":0`}, absent: append(notA, notB...)},
		}, nil},
	}
	for _, c := range cases {
		for actor, want := range c.want {
			t.Run(c.name+"/"+actor, func(t *testing.T) {
				t.Parallel()
				app := testapp.New(t)
				client := testapp.NewClient(t, app)
				var res testapp.Response
				if actor == customer {
					// a customer has no PocketBase account: their link token is all they hold
					res = client.DoWithHeaders(testapp.Anon, c.method, c.path, c.body, map[string]string{"Authorization": issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL)})
				} else {
					res = client.Do(actor, c.method, c.path, c.body)
				}
				if res.Status != want.status {
					t.Fatalf("%d %s, want %d", res.Status, res.Body, want.status)
				}
				for _, s := range want.contains {
					if !strings.Contains(res.Body, s) {
						t.Errorf("answer lacks %q: %.300s", s, res.Body)
					}
				}
				for _, s := range want.absent {
					if strings.Contains(res.Body, s) {
						t.Errorf("answer leaks %q", s)
					}
				}
				if c.written != nil {
					_, err := app.FindRecordById("visits", "matrixvisit0001")
					if (err == nil) != c.written[actor] {
						t.Errorf("visit written = %v, want %v", err == nil, c.written[actor])
					}
				}
			})
		}
	}
}
