package sync_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"rounds/internal/testapp"
	rsync "rounds/sync"
	"rounds/sync/conflict"
)

var pushSeeds = []string{
	`{"visits":{"created":[{"id":"fuzzvisit000001","customer":"customera000001","purpose":"x"}],"updated":[],"deleted":[]}}`,
	`{"customers":{"created":[],"updated":[{"id":"customera000001","notes":"n","_status":"updated","_changed":"notes"}],"deleted":[]}}`,
	`{"order_lines":{"created":[{"id":"fuzzline0000001","order":"ordera000000001","product":"productcoffee01","quantity":1e308}]}}`,
	`{"visits":{"created":[{"id":"x","check_in_lat":"NaN"}]}}`,
	`{"visits":{"deleted":["visita000000001","visita000000001"]},"visits ":{}}`,
	`{"changes":{"contacts":{"created":[{"id":"fuzzcontact0001","customer":"customera000001","name":"` + strings.Repeat("é", 300) + `"}]}}}`,
	`{"products":{"updated":[{"id":"productcoffee01","unit_price":0}]}}`,
	`{"orders":{"updated":[{"id":"ordera000000001","status":"fulfilled","_changed":"status"}]}}`,
	`{"visits":{"created":[{"id":"fuzzvisit000002","customer":"customera000001","planned_at":-62135596800001}]}}`,
	`{"visits":{"created":[{"id":"fuzzvisit000003","customer":"customera000001","customer":"customerb000001"}]}}`,
	`[]`, `null`, `{"visits":null}`, `{"visits":{"created":[null,1,"x",[]]}}`,
}

// FuzzDecodeChanges: any body decodes to a clear error or to known tables.
func FuzzDecodeChanges(f *testing.F) {
	for _, s := range pushSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		changes, err := rsync.DecodeChanges(body)
		if err != nil {
			return
		}
		for table := range changes {
			if _, ok := rsync.TableByName(table); !ok {
				t.Fatalf("decoded an unknown table %q", table)
			}
		}
	})
}

// FuzzPush pushes arbitrary bodies as rep A through the real handler: never
// a 5xx, never a panic, and every order's total still equals its lines.
func FuzzPush(f *testing.F) {
	for _, s := range pushSeeds {
		f.Add(s)
	}
	app := testapp.New(f)
	client := testapp.NewClient(f, app)
	f.Fuzz(func(t *testing.T, body string) {
		res := client.For(t).Do(testapp.RepA, http.MethodPost, "/api/sync/push?last_pulled_at=1000000", body)
		if res.Status >= 500 {
			t.Fatalf("push %q: %d %s", body, res.Status, res.Body)
		}
		var bad int
		err := app.DB().NewQuery(`SELECT COUNT(*) FROM orders o WHERE ROUND(o.total * 100) !=
			(SELECT COALESCE(SUM(ROUND(l.line_total * 100)), 0) FROM order_lines l WHERE l."order" = o.id)`).Row(&bad)
		if err != nil || bad != 0 {
			t.Fatalf("after push %q: %d orders whose total is not their lines (%v)", body, bad, err)
		}
		var foreign int
		_ = app.DB().NewQuery(`SELECT COUNT(*) FROM visits v JOIN customers c ON c.id = v.customer
			WHERE v.purpose LIKE '%fuzz%' AND c.owner != 'userrepa0000001'`).Row(&foreign)
		if foreign != 0 {
			t.Fatalf("push %q wrote into another rep's territory", body)
		}
	})
}

// FuzzResolve: whatever the values, a field keeps the server's value, the
// device's, or (notes) a text holding both; identical values never conflict.
func FuzzResolve(f *testing.F) {
	f.Add("a", "b", true, false, true, int64(1), int64(2))
	f.Add("same", "same", true, true, true, int64(5), int64(5))
	f.Add("", "x", false, false, false, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, client, server string, note, owned, changed bool, serverAt, deviceAt int64) {
		out := conflict.Resolve(conflict.Field{
			ServerOwned: owned, Note: note, Client: client, Server: server, ServerChanged: changed,
			ServerAt: unix(serverAt), DeviceAt: unix(deviceAt),
		})
		v := fmt.Sprint(out.Value)
		switch {
		case client == server || (client == "" && server == ""):
			if out.Conflict {
				t.Fatalf("identical values conflicted: %+v", out)
			}
		case owned && v != server:
			t.Fatalf("a device changed a server-owned field: %+v", out)
		case v != client && v != server && !(note && strings.Contains(v, client) && strings.Contains(v, server)):
			t.Fatalf("the value %q is neither side's: client %q server %q", v, client, server)
		}
		if out.Conflict && out.Rule == "" {
			t.Fatal("a conflict without a rule")
		}
	})
}
