package sync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/crm"
	"rounds/internal/testapp"
	rsync "rounds/sync"
	"rounds/sync/conflict"
)

type M = map[string]any

type tableChanges struct {
	Created []M      `json:"created"`
	Updated []M      `json:"updated"`
	Deleted []string `json:"deleted"`
}

type pullResult struct {
	Changes              map[string]tableChanges `json:"changes"`
	Timestamp            int64                   `json:"timestamp"`
	ExperimentalStrategy string                  `json:"experimentalStrategy"`
}

func (p pullResult) ids(table string) []string {
	var out []string
	for _, r := range p.Changes[table].Updated {
		out = append(out, r["id"].(string))
	}
	slices.Sort(out)
	return out
}

func (p pullResult) record(table, id string) M {
	for _, r := range p.Changes[table].Updated {
		if r["id"] == id {
			return r
		}
	}
	return nil
}

type pushResult struct {
	ExperimentalRejectedIDs map[string][]string `json:"experimentalRejectedIds"`
	Rejected                []struct{ Table, ID, Reason string }
	Conflicts               []struct{ Table, ID, Field, Resolution string }
	SyncAgain               *bool `json:"sync_again"`
}

type syncClient struct {
	t      *testing.T
	app    *tests.TestApp
	client *testapp.Client
}

func newSync(t *testing.T) *syncClient {
	app := testapp.New(t)
	return &syncClient{t: t, app: app, client: testapp.NewClient(t, app)}
}

func (s *syncClient) pull(actor string, cursor any) pullResult {
	s.t.Helper()
	res := s.client.Do(actor, http.MethodGet, fmt.Sprintf("/api/sync/pull?last_pulled_at=%v&schema_version=1", cursor), nil)
	if res.Status != 200 {
		s.t.Fatalf("pull: %d %s", res.Status, res.Body)
	}
	var out pullResult
	res.JSON(s.t, &out)
	return out
}

func (s *syncClient) push(actor string, lastPulledAt int64, changes M) pushResult {
	s.t.Helper()
	res := s.client.Do(actor, http.MethodPost, fmt.Sprintf("/api/sync/push?last_pulled_at=%d", lastPulledAt), changes)
	if res.Status != 200 {
		s.t.Fatalf("push: %d %s", res.Status, res.Body)
	}
	var out pushResult
	res.JSON(s.t, &out)
	return out
}

func (s *syncClient) count(table string) int {
	n, err := s.app.CountRecords(table)
	if err != nil {
		s.t.Fatal(err)
	}
	return int(n)
}

func (s *syncClient) changeRows() int {
	var n int
	if err := s.app.DB().NewQuery("SELECT COUNT(*) FROM " + rsync.ChangesTable).Row(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestFirstPullIsTheRepsScope(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	p := s.pull(testapp.RepA, "null")
	want := map[string][]string{
		"customers":   {testapp.CustomerA},
		"contacts":    {testapp.ContactA},
		"visits":      {testapp.VisitA},
		"follow_ups":  {testapp.FollowUpA},
		"orders":      {testapp.OrderA, testapp.OrderASubmitted},
		"order_lines": {testapp.LineA, testapp.LineASubmitted},
		"products":    {testapp.ProductCoffee, testapp.ProductCups, testapp.ProductUSD},
	}
	for table, ids := range want {
		slices.Sort(ids)
		if got := p.ids(table); !slices.Equal(got, ids) {
			t.Errorf("%s: got %v, want %v", table, got, ids)
		}
	}
	if p.Timestamp <= 0 {
		t.Fatalf("timestamp %d", p.Timestamp)
	}
	// wire format: ids for relations, epoch ms for dates, numbers, booleans
	v := p.record("visits", testapp.VisitA)
	if v["customer"] != testapp.CustomerA || v["checked_in_at"] != float64(testapp.Now.UnixMilli()) || v["checked_out_at"] != nil || v["geo_status"] != "verified" {
		t.Fatalf("visit on the wire: %v", v)
	}
	if c := p.record("contacts", testapp.ContactA); c["care_opt_in"] != true || c["birthday"] != "03-02" {
		t.Fatalf("contact on the wire: %v", c)
	}
	if l := p.record("order_lines", testapp.LineA); l["unit_price"] != 12.5 || l["line_total"] != 25.0 {
		t.Fatalf("line on the wire: %v", l)
	}

	// nothing changed: an incremental pull is empty
	again := s.pull(testapp.RepA, p.Timestamp)
	for table, c := range again.Changes {
		if len(c.Updated)+len(c.Deleted)+len(c.Created) > 0 {
			t.Errorf("%s: unexpected changes %+v", table, c)
		}
	}
	if again.Timestamp != p.Timestamp {
		t.Fatalf("timestamp moved without changes: %d -> %d", p.Timestamp, again.Timestamp)
	}

	// sync is for reps: a manager is told so, and gets nothing
	if res := s.client.Do(testapp.ManagerA, http.MethodGet, "/api/sync/pull?schema_version=4&last_pulled_at=null", nil); res.Status != 403 ||
		!strings.Contains(res.Body, "Sync is for reps") || strings.Contains(res.Body, testapp.CustomerA) {
		t.Fatalf("a manager's pull: %d %s", res.Status, res.Body)
	}
}

func TestIncrementalPullSeesEveryWritePath(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	start := s.pull(testapp.RepA, "null").Timestamp

	// REST by the rep, the dashboard (superuser), and a hook (line -> order total)
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"title": "Buyer"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{"phone": "+49 30 555"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/order_lines/records/"+testapp.LineA, M{"quantity": 4}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if res := s.client.Do(testapp.RepA, "DELETE", "/api/collections/follow_ups/records/"+testapp.FollowUpA, nil); res.Status != 204 {
		t.Fatal(res.Body)
	}
	// rep B's world changes too, and must not show up
	if res := s.client.Do(testapp.RepB, "PATCH", "/api/collections/contacts/records/"+testapp.ContactB, M{"title": "Owner"}); res.Status != 200 {
		t.Fatal(res.Body)
	}

	p := s.pull(testapp.RepA, start)
	for table, ids := range map[string][]string{
		"contacts":    {testapp.ContactA},
		"customers":   {testapp.CustomerA},
		"order_lines": {testapp.LineA},
		"orders":      {testapp.OrderA}, // total recomputed by the hook
		"visits":      nil,
		"follow_ups":  nil,
	} {
		if got := p.ids(table); !slices.Equal(got, ids) {
			t.Errorf("%s: got %v, want %v", table, got, ids)
		}
	}
	if got := p.Changes["follow_ups"].Deleted; !slices.Equal(got, []string{testapp.FollowUpA}) {
		t.Errorf("deleted follow-ups %v", got)
	}
	if o := p.record("orders", testapp.OrderA); o["total"] != 50.0 {
		t.Errorf("order total %v, want 50", o["total"])
	}
	if p.Timestamp <= start {
		t.Fatalf("cursor did not advance: %d -> %d", start, p.Timestamp)
	}
}

// TestRecordMovedToAnotherCustomer: a record an admin moves between
// customers of two reps leaves one device and arrives on the other.
func TestRecordMovedToAnotherCustomer(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	a, b := s.pull(testapp.RepA, "null").Timestamp, s.pull(testapp.RepB, "null").Timestamp
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"customer": testapp.CustomerB}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if got := s.pull(testapp.RepA, a).Changes["contacts"]; !slices.Equal(got.Deleted, []string{testapp.ContactA}) || len(got.Updated)+len(got.Created) > 0 {
		t.Errorf("old owner's pull: %+v, want the contact deleted", got)
	}
	if got := s.pull(testapp.RepB, b).record("contacts", testapp.ContactA); got == nil || got["customer"] != testapp.CustomerB {
		t.Errorf("new owner's pull: %v, want the contact under %s", got, testapp.CustomerB)
	}

	// an order that moves takes its lines along
	a, b = s.pull(testapp.RepA, "null").Timestamp, s.pull(testapp.RepB, "null").Timestamp
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/orders/records/"+testapp.OrderA, M{"customer": testapp.CustomerB, "visit": ""}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	pa, pb := s.pull(testapp.RepA, a), s.pull(testapp.RepB, b)
	for table, id := range map[string]string{"orders": testapp.OrderA, "order_lines": testapp.LineA} {
		if got := pa.Changes[table].Deleted; !slices.Equal(got, []string{id}) {
			t.Errorf("old owner's pull deletes %s %v, want [%s]", table, got, id)
		}
		if pb.record(table, id) == nil {
			t.Errorf("new owner's pull lacks %s %s", table, id)
		}
	}
	// a move by plain SQL (a hook, a script) naming only the moved column
	a, b = s.pull(testapp.RepA, "null").Timestamp, s.pull(testapp.RepB, "null").Timestamp
	if _, err := s.app.DB().NewQuery("UPDATE contacts SET customer = {:c} WHERE id = {:id}").
		Bind(dbx.Params{"c": testapp.CustomerA, "id": testapp.ContactA}).Execute(); err != nil {
		t.Fatal(err)
	}
	if got := s.pull(testapp.RepB, b).Changes["contacts"].Deleted; !slices.Equal(got, []string{testapp.ContactA}) {
		t.Errorf("after an SQL move the old owner's pull deletes %v, want [%s]", got, testapp.ContactA)
	}
	if s.pull(testapp.RepA, a).record("contacts", testapp.ContactA) == nil {
		t.Errorf("after an SQL move the new owner's pull lacks contact %s", testapp.ContactA)
	}

	// an edit that moves nothing is logged once, under its customer
	before := s.changeRows()
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"name": "Renamed"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	if n := s.changeRows() - before; n != 1 {
		t.Errorf("a rename logged %d change rows, want 1", n)
	}
}

func TestPushAppliesAndRetriesAreHarmless(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	changes := M{
		"visits": M{"created": []M{{
			"id": "WmVisitOffline01", "customer": testapp.CustomerA, "contact": testapp.ContactA, "rep": "",
			"planned_at": nil, "checked_in_at": float64(testapp.Now.UnixMilli()), "checked_out_at": nil,
			"check_in_lat": 52.5202, "check_in_lng": 13.4052, "purpose": "restock", "outcome": "", "notes": "offline",
			"geo_status": "", "created": float64(testapp.Now.UnixMilli()), "updated": float64(testapp.Now.UnixMilli()),
			"_status": "created", "_changed": "",
		}}, "updated": []M{}, "deleted": []string{}},
		"contacts": M{"created": []M{}, "updated": []M{{
			"id": testapp.ContactA, "customer": testapp.CustomerA, "name": "Contact of userrepa0000001", "title": "Head buyer",
			"_status": "updated", "_changed": "title",
		}}, "deleted": []string{}},
		"follow_ups": M{"created": []M{}, "updated": []M{}, "deleted": []string{testapp.FollowUpA}},
		"order_lines": M{"created": []M{{
			"id": "WmLineOffline001", "order": testapp.OrderA, "product": testapp.ProductCups, "quantity": 10.0,
			"discount_pct": 0.0, "unit_price": 99.0, "line_total": 99.0, "_status": "created", "_changed": "",
		}}, "updated": []M{}, "deleted": []string{}},
	}
	res := s.push(testapp.RepA, ts, changes)
	if len(res.Rejected) > 0 {
		t.Fatalf("rejected: %+v", res.Rejected)
	}
	v, err := s.app.FindRecordById("visits", "WmVisitOffline01")
	if err != nil {
		t.Fatal(err)
	}
	if v.GetString("rep") != testapp.UserRepA || v.GetString("geo_status") != "verified" {
		t.Fatalf("pushed visit: rep %q geo %q", v.GetString("rep"), v.GetString("geo_status"))
	}
	line, _ := s.app.FindRecordById("order_lines", "WmLineOffline001")
	if line.GetFloat("unit_price") != 0.10 || line.GetFloat("line_total") != 1.0 {
		t.Fatalf("pushed line priced %v / %v, want the catalogue's 0.10 / 1.00", line.GetFloat("unit_price"), line.GetFloat("line_total"))
	}
	order, _ := s.app.FindRecordById("orders", testapp.OrderA)
	if order.GetFloat("total") != 26.0 {
		t.Fatalf("order total %v, want 26", order.GetFloat("total"))
	}
	if c, _ := s.app.FindRecordById("contacts", testapp.ContactA); c.GetString("title") != "Head buyer" {
		t.Fatalf("contact title %q", c.GetString("title"))
	}
	if _, err := s.app.FindRecordById("follow_ups", testapp.FollowUpA); err == nil {
		t.Fatal("follow-up not deleted")
	}

	// the response was lost: the same push again changes nothing at all
	rows, conflicts, visits := s.changeRows(), s.count("sync_conflicts"), s.count("visits")
	again := s.push(testapp.RepA, ts, changes)
	if len(again.Rejected)+len(again.Conflicts) > 0 {
		t.Fatalf("retry: %+v", again)
	}
	if s.changeRows() != rows || s.count("sync_conflicts") != conflicts || s.count("visits") != visits {
		t.Fatalf("retry wrote: change rows %d -> %d, conflicts %d -> %d, visits %d -> %d",
			rows, s.changeRows(), conflicts, s.count("sync_conflicts"), visits, s.count("visits"))
	}

	// the device's own changes come back in its next pull
	p := s.pull(testapp.RepA, ts)
	if p.record("visits", "WmVisitOffline01") == nil || p.record("order_lines", "WmLineOffline001")["unit_price"] != 0.1 {
		t.Fatalf("own push not in the next pull: %+v", p.Changes)
	}
}

func TestPushRejectsOneByOne(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	res := s.push(testapp.RepA, ts, M{
		"visits": M{"created": []M{
			{"id": "okvisit00000001", "customer": testapp.CustomerA, "purpose": "fine"},
			{"id": "badvisit0000001", "customer": testapp.CustomerB, "purpose": "not mine"},
			{"id": "badvisit0000002", "customer": testapp.CustomerA, "check_in_lat": "north"},
			{"id": "badvisit0000003", "customer": testapp.CustomerA, "mood": "happy"},
			{"id": "short", "customer": testapp.CustomerA},
			{"id": testapp.VisitB, "customer": testapp.CustomerA, "purpose": "id of rep B's visit"},
			{"id": "badvisit0000004", "customer": testapp.CustomerA, "contact": testapp.ContactB}, // a relation out of scope
		}, "updated": []M{
			{"id": testapp.VisitA, "contact": "nosuchcontact01", "_status": "updated", "_changed": "contact"},
		}, "deleted": []string{}},
		"order_lines": M{"created": []M{
			{"id": "badline00000001", "order": testapp.OrderASubmitted, "product": testapp.ProductCoffee, "quantity": 1.0},
			{"id": "badline00000002", "order": testapp.OrderA, "product": testapp.ProductRetired, "quantity": 1.0},
		}, "updated": []M{}, "deleted": []string{testapp.LineASubmitted}},
		"customers": M{"created": []M{}, "updated": []M{}, "deleted": []string{testapp.CustomerA}},
		"contacts": M{"created": []M{
			{"id": "okcontact000001", "customer": testapp.CustomerA, "name": "Ann", "phone": "+49 (30) 123-45"},
			{"id": "badcontact00001", "customer": testapp.CustomerA, "name": "Bob", "phone": "call me maybe"},
		}},
	})
	wantRejected := map[string]string{
		"badcontact00001":      `contacts.phone: at most 40 characters: digits, spaces and + ( ) . / -, such as +49 30 1234567, or empty; got "call me maybe"`,
		"badvisit0000001":      "not in your scope",
		"badvisit0000002":      "must be a number",
		"badvisit0000003":      "unknown column visits.mood",
		"short":                "invalid id",
		testapp.VisitB:         "already in use",
		"badvisit0000004":      "belongs to another customer",
		testapp.VisitA:         "contacts nosuchcontact01 does not exist",
		"badline00000001":      "can no longer change",
		"badline00000002":      "no longer sold",
		testapp.LineASubmitted: "can no longer change",
		testapp.CustomerA:      "not deleted from a device",
	}
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.ID] = r.Reason
	}
	for id, reason := range wantRejected {
		if !strings.Contains(got[id], reason) {
			t.Errorf("%s: rejected with %q, want a reason containing %q", id, got[id], reason)
		}
	}
	if len(got) != len(wantRejected) {
		t.Errorf("rejected %v", got)
	}
	if ids := res.ExperimentalRejectedIDs["visits"]; len(ids) != 7 {
		t.Errorf("experimentalRejectedIds.visits = %v", ids)
	}
	for _, ok := range []struct{ table, id string }{{"visits", "okvisit00000001"}, {"contacts", "okcontact000001"}} {
		if _, err := s.app.FindRecordById(ok.table, ok.id); err != nil {
			t.Fatalf("the valid %s %s in a push with rejections was not applied", ok.table, ok.id)
		}
	}
	if v, _ := s.app.FindRecordById("visits", testapp.VisitB); v.GetString("customer") != testapp.CustomerB {
		t.Fatal("a create with another rep's id was merged into their record")
	}
	for _, id := range []string{"badvisit0000001", "badvisit0000002", "badline00000001"} {
		if _, err := s.app.FindRecordById("visits", id); err == nil {
			t.Errorf("rejected %s was written", id)
		}
	}
	logged, _ := s.app.FindRecordsByFilter("sync_conflicts", "resolution = 'rejected'", "", 0, 0)
	if len(logged) != len(wantRejected) {
		t.Errorf("%d rejections in sync_conflicts, want %d", len(logged), len(wantRejected))
	}
}

// TestPushDeleteFollowsTheLinks: a pushed delete does what PocketBase's
// own delete does (cascades, empties optional links), and one that a
// required link forbids is refused before anything is written.
func TestPushDeleteFollowsTheLinks(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp

	// an admin-made collection whose records must point at a visit
	visits, err := s.app.FindCollectionByNameOrId("visits")
	if err != nil {
		t.Fatal(err)
	}
	reports := core.NewBaseCollection("visit_reports")
	reports.Fields.Add(&core.RelationField{Name: "visit", CollectionId: visits.Id, Required: true, MaxSelect: 1})
	if err := s.app.Save(reports); err != nil {
		t.Fatal(err)
	}
	report := core.NewRecord(reports)
	report.Set("visit", testapp.VisitA)
	if err := s.app.Save(report); err != nil {
		t.Fatal(err)
	}
	rows := s.changeRows()
	res := s.push(testapp.RepA, ts, M{"visits": M{"deleted": []string{testapp.VisitA}}})
	if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "cannot be deleted: it is still referenced by visit_reports") {
		t.Fatalf("rejected %+v", res.Rejected)
	}
	if _, err := s.app.FindRecordById("visits", testapp.VisitA); err != nil {
		t.Fatal("the refused visit was deleted")
	}
	// nothing half-done: the optional links to the visit are still there
	for _, l := range []struct{ table, id string }{{"follow_ups", testapp.FollowUpA}, {"orders", testapp.OrderA}} {
		if r, _ := s.app.FindRecordById(l.table, l.id); r.GetString("visit") != testapp.VisitA {
			t.Errorf("%s %s lost its link to the refused visit", l.table, l.id)
		}
	}
	if s.changeRows() != rows {
		t.Errorf("the refused delete wrote %d change rows", s.changeRows()-rows)
	}

	// a contact goes with its devices and messages; visits and follow-ups
	// that named it stay, without the link; an order goes with its lines
	res = s.push(testapp.RepA, ts, M{
		"contacts": M{"deleted": []string{testapp.ContactA}},
		"orders":   M{"deleted": []string{testapp.OrderA}},
	})
	if len(res.Rejected) > 0 {
		t.Fatalf("rejected %+v", res.Rejected)
	}
	for _, gone := range []struct{ table, id string }{
		{"contacts", testapp.ContactA}, {"contact_devices", testapp.ContactDevice}, {"notifications", testapp.Notification},
		{"orders", testapp.OrderA}, {"order_lines", testapp.LineA},
	} {
		if _, err := s.app.FindRecordById(gone.table, gone.id); err == nil {
			t.Errorf("%s %s should be gone", gone.table, gone.id)
		}
	}
	for _, l := range []struct{ table, id string }{{"visits", testapp.VisitA}, {"follow_ups", testapp.FollowUpA}} {
		r, err := s.app.FindRecordById(l.table, l.id)
		if err != nil || r.GetString("contact") != "" {
			t.Errorf("%s %s: %v, contact %q; want it kept without the contact", l.table, l.id, err, r.GetString("contact"))
		}
	}
	// the device learns all of it in its next pull
	p := s.pull(testapp.RepA, ts)
	if v := p.record("visits", testapp.VisitA); v == nil || v["contact"] != nil {
		t.Errorf("pulled visit %v, want it with contact null", v)
	}
	if got := p.Changes["order_lines"].Deleted; !slices.Contains(got, testapp.LineA) {
		t.Errorf("deleted lines %v, want %s", got, testapp.LineA)
	}
}

func TestPushMergesConflicts(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp

	// the admin edits the customer's phone and notes after the device's pull
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA,
		M{"phone": "+49 30 111", "notes": "ask for Anna", "address": "1 Main St"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	// the device syncs: pull (gets the admin's edit), then pushes its own
	// offline edits of the same fields, made before the admin's (clock 0)
	ts2 := s.pull(testapp.RepA, ts).Timestamp
	res := s.push(testapp.RepA, ts2, M{"customers": M{"created": []M{}, "deleted": []string{}, "updated": []M{{
		"id": testapp.CustomerA, "phone": "+49 30 222", "notes": "gate code 42", "name": "Renamed offline",
		"owner": testapp.UserRepB, "tier": "C", "updated": 0.0, "_status": "updated", "_changed": "phone,notes,name,owner,tier",
	}}}})
	c, _ := s.app.FindRecordById("customers", testapp.CustomerA)
	if c.GetString("phone") != "+49 30 111" {
		t.Errorf("phone %q: the admin's later edit should win", c.GetString("phone"))
	}
	if c.GetString("notes") != "ask for Anna\n---\ngate code 42" {
		t.Errorf("notes %q: both texts should be kept", c.GetString("notes"))
	}
	if c.GetString("name") != "Renamed offline" {
		t.Errorf("name %q: an edit only the device made applies", c.GetString("name"))
	}
	if c.GetString("owner") != testapp.UserRepA || c.GetString("tier") != "A" {
		t.Errorf("server-owned fields changed: owner %q tier %q", c.GetString("owner"), c.GetString("tier"))
	}
	resolutions := map[string]string{}
	for _, x := range res.Conflicts {
		resolutions[x.Field] = x.Resolution
	}
	want := map[string]string{"phone": "server", "notes": "merged", "owner": "server", "tier": "server"}
	for f, r := range want {
		if resolutions[f] != r {
			t.Errorf("conflict on %s: %q, want %q (all: %v)", f, resolutions[f], r, resolutions)
		}
	}
	logged, _ := s.app.FindRecordsByFilter("sync_conflicts", "record_id = {:id} && field = 'phone' && id != '"+testapp.Conflict+"'", "", 0, 0, map[string]any{"id": testapp.CustomerA})
	if len(logged) != 1 || !strings.Contains(string(logged[0].GetString("client_value")), "222") {
		for _, l := range logged {
			t.Logf("%v", l.FieldsData())
		}
		t.Fatalf("the losing phone number is not kept in sync_conflicts once: %d rows", len(logged))
	}
}

// TestPushConflictTimes: "latest edit wins" compares the device's edit
// time with the time the server logged for the other edit (the record's
// updated, for REST and dashboard writes).
func TestPushConflictTimes(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	time.Sleep(5 * time.Millisecond)
	edit := func(field, value string) {
		t.Helper()
		if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{field: value}); res.Status != 200 {
			t.Fatal(res.Body)
		}
	}
	// pushed in process with the real clock (the test server's is fixed)
	push := func(field, value string, updated time.Time) rsync.PushResult {
		t.Helper()
		res, err := rsync.Push(context.Background(), s.app, rsync.PushRequest{
			Rep: testapp.UserRepA, LastPulledAt: ts, Now: time.Now(),
			Changes: rsync.Changes{"customers": {Updated: []rsync.Raw{{
				"id": testapp.CustomerA, field: value, "updated": float64(updated.UnixMilli()), "_status": "updated", "_changed": field,
			}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	resolution := func(res rsync.PushResult, field string) string {
		for _, c := range res.Conflicts {
			if c.Field == field {
				return c.Resolution
			}
		}
		return ""
	}

	// the device edited offline before the admin did: the admin's edit stays
	before := time.Now()
	time.Sleep(5 * time.Millisecond)
	edit("email", "admin@shop.test")
	if res := push("email", "device@shop.test", before); resolution(res, "email") != "server" {
		t.Errorf("earlier device edit: %+v, want the server's value kept", res.Conflicts)
	}
	// the device edited after the admin: the device's edit wins
	edit("phone", "+49 30 1")
	time.Sleep(5 * time.Millisecond)
	if res := push("phone", "+49 30 2", time.Now()); resolution(res, "phone") != "client" {
		t.Errorf("later device edit: %+v, want the device's value", res.Conflicts)
	}
	c, _ := s.app.FindRecordById("customers", testapp.CustomerA)
	if c.GetString("email") != "admin@shop.test" || c.GetString("phone") != "+49 30 2" {
		t.Errorf("email %q phone %q", c.GetString("email"), c.GetString("phone"))
	}
}

func TestReassignmentMovesTheHistory(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	a := s.pull(testapp.RepA, "null").Timestamp
	b := s.pull(testapp.RepB, "null").Timestamp

	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{"owner": testapp.UserRepB}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	pa := s.pull(testapp.RepA, a)
	for table, ids := range map[string][]string{
		"customers":   {testapp.CustomerA},
		"contacts":    {testapp.ContactA},
		"visits":      {testapp.VisitA},
		"orders":      {testapp.OrderA, testapp.OrderASubmitted},
		"order_lines": {testapp.LineA, testapp.LineASubmitted},
	} {
		got := pa.Changes[table].Deleted
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("old owner: %s deleted %v, want %v", table, got, ids)
		}
		if len(pa.Changes[table].Updated) > 0 {
			t.Errorf("old owner still receives %s: %v", table, pa.ids(table))
		}
	}
	pb := s.pull(testapp.RepB, b)
	for table, ids := range map[string][]string{
		"customers":   {testapp.CustomerA},
		"contacts":    {testapp.ContactA},
		"visits":      {testapp.VisitA},
		"follow_ups":  {testapp.FollowUpA},
		"orders":      {testapp.OrderA, testapp.OrderASubmitted},
		"order_lines": {testapp.LineA, testapp.LineASubmitted},
	} {
		slices.Sort(ids)
		if got := pb.ids(table); !slices.Equal(got, ids) {
			t.Errorf("new owner: %s got %v, want %v", table, got, ids)
		}
	}

	// a record created under B's new customer after the move never reaches A
	if res := s.client.Do(testapp.RepB, "POST", "/api/collections/visits/records", M{"id": "visitafterthemove", "customer": testapp.CustomerA}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	for _, cursor := range []any{a, "null", pa.Timestamp} {
		p := s.pull(testapp.RepA, cursor)
		if strings.Contains(fmt.Sprint(p.Changes), "visitafterthemove") {
			t.Fatalf("rep A learnt the id of B's new visit (cursor %v)", cursor)
		}
	}
}

func TestSchemaAndBadRequests(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	res := s.client.Do(testapp.Anon, "GET", "/api/sync/schema", nil)
	// public by decision: the layout only, nothing of any record
	for _, leak := range []string{testapp.CustomerA, testapp.UserRepA, testapp.ProductCoffee, crm.DefaultStages[0].ID, "Prospecting", "rounds.test"} {
		if strings.Contains(res.Body, leak) {
			t.Fatalf("the public schema names %q", leak)
		}
	}
	if res.Status != 200 || !strings.Contains(res.Body, `"name":"visits"`) || !strings.Contains(res.Body, `"isOptional"`) {
		t.Fatalf("schema: %d %.300s", res.Status, res.Body)
	}
	cases := []struct {
		actor, method, url string
		body               any
		status             int
		mention            string
	}{
		{testapp.Anon, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, 401, ""},
		{testapp.RepA, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=yesterday", nil, 400, "last_pulled_at"},
		{testapp.RepA, "GET", "/api/sync/pull?last_pulled_at=null&schema_version=99", nil, 400, "newer"},
		{testapp.RepA, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null&migration=%7Bbad", nil, 400, "migration"},
		{testapp.RepA, "GET", `/api/sync/pull?schema_version=4&last_pulled_at=null&migration={"from":1,"tables":["secrets"],"columns":[]}`, nil, 400, "unknown table"},
		{testapp.RepA, "GET", "/api/sync/pull?schema_version=4", nil, 400, "last_pulled_at is required"},
		{testapp.RepA, "GET", "/api/sync/pull?last_pulled_at=null", nil, 400, "schema_version is required"},
		{testapp.RepA, "GET", "/api/sync/pull?last_pulled_at=null&schema_version=0", nil, 400, "schema_version must be"},
		{testapp.RepA, "GET", "/api/sync/pull?last_pulled_at=undefined&schema_version=4", nil, 400, "last_pulled_at must be null"},
		{testapp.RepA, "POST", "/api/sync/push", M{}, 400, "last_pulled_at is required"},
		{testapp.RepA, "POST", "/api/sync/push?last_pulled_at=null", M{}, 400, "last_pulled_at is required"},
		{testapp.RepA, "POST", "/api/sync/push?last_pulled_at=-5", M{}, 400, "last_pulled_at must be"},
		{testapp.ManagerA, "POST", "/api/sync/push?last_pulled_at=1", M{}, 403, "Sync is for reps"},
		{testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1", `{"visits": `, 400, "not valid JSON"},
		{testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1", M{"secrets": M{"created": []M{}}}, 400, "unknown table"},
		{testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1", M{"visits": M{"created": "lots"}}, 400, "Table visits"},
		{testapp.Anon, "POST", "/api/sync/push?last_pulled_at=1", M{}, 401, ""},
	}
	for _, c := range cases {
		res := s.client.Do(c.actor, c.method, c.url, c.body)
		if res.Status != c.status || !strings.Contains(res.Body, c.mention) {
			t.Errorf("%s %s: %d %s, want %d mentioning %q", c.method, c.url, res.Status, res.Body, c.status, c.mention)
		}
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	old := s.pull(testapp.RepA, "null").Timestamp
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"title": "after the old cursor"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	recent := s.pull(testapp.RepA, old).Timestamp
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/visits/records/"+testapp.VisitA, M{"outcome": "new"}); res.Status != 200 {
		t.Fatal(res.Body)
	}

	// nothing logged in this test is older than an hour
	if removed, err := rsync.Prune(s.app, time.Now().Add(-time.Hour)); err != nil || removed != 0 {
		t.Fatalf("prune of rows older than an hour: %d rows, %v", removed, err)
	}
	// everything logged so far is older than the retention (the newest row stays)
	removed, err := rsync.Prune(s.app, time.Now().Add(time.Hour))
	if err != nil || removed == 0 {
		t.Fatalf("prune: %d rows, %v", removed, err)
	}
	// a device whose cursor predates what is left gets a full replacement pull
	p := s.pull(testapp.RepA, old)
	if p.ExperimentalStrategy != "replacement" || len(p.ids("customers")) != 1 || len(p.ids("visits")) != 1 {
		t.Fatalf("old cursor after pruning: strategy %q, %v", p.ExperimentalStrategy, p.Changes)
	}
	// a device that is up to date carries on incrementally
	q := s.pull(testapp.RepA, recent)
	if q.ExperimentalStrategy != "" || !slices.Equal(q.ids("visits"), []string{testapp.VisitA}) || len(q.ids("customers")) != 0 {
		t.Fatalf("recent cursor after pruning: strategy %q, %v", q.ExperimentalStrategy, q.Changes)
	}
	// and a cursor from the future (a restored backup) gets a full pull too
	if f := s.pull(testapp.RepA, q.Timestamp+50*1_000_000); f.ExperimentalStrategy != "replacement" {
		t.Fatalf("future cursor: strategy %q", f.ExperimentalStrategy)
	}
}

// TestStampColumnUpgrade: a change log made before the stamp column gets
// it (once), and the reinstalled triggers fill it.
func TestStampColumnUpgrade(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	db := s.app.NonconcurrentDB()
	if err := rsync.SuspendCapture(db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewQuery("ALTER TABLE " + rsync.ChangesTable + " DROP COLUMN stamp").Execute(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := rsync.StampColumn(db); err != nil {
			t.Fatal(err)
		}
	}
	if err := rsync.InstallCapture(db); err != nil {
		t.Fatal(err)
	}
	if res := s.client.Do(testapp.RepA, "PATCH", "/api/collections/contacts/records/"+testapp.ContactA, M{"title": "Buyer"}); res.Status != 200 {
		t.Fatal(res.Body)
	}
	var row struct {
		Cols  string
		At    int64
		Stamp string
	}
	if err := s.app.DB().NewQuery("SELECT cols, at, stamp FROM " + rsync.ChangesTable + " ORDER BY seq DESC LIMIT 1").One(&row); err != nil {
		t.Fatal(err)
	}
	c, _ := s.app.FindRecordById("contacts", testapp.ContactA)
	if row.Cols != ",title," || row.At != 0 || row.Stamp != c.GetString("updated") {
		t.Fatalf("change row %+v, want cols ,title, and the contact's updated %q as stamp", row, c.GetString("updated"))
	}
}

func TestPullMigrationSendsNewColumnsWhole(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	// nothing changed, but the device just added contacts.title and the
	// products table: those arrive complete
	migration := `{"from":1,"tables":["products"],"columns":[{"table":"contacts","columns":["title"]}]}`
	res := s.client.Do(testapp.RepA, "GET", fmt.Sprintf("/api/sync/pull?last_pulled_at=%d&schema_version=1&migration=%s", ts, url.QueryEscape(migration)), nil)
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	var p pullResult
	res.JSON(t, &p)
	if !slices.Equal(p.ids("contacts"), []string{testapp.ContactA}) || len(p.ids("products")) != 3 || len(p.ids("visits")) != 0 {
		t.Fatalf("migration pull: %v", p.Changes)
	}
}

func TestOversizedPushes(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ids := make([]string, 20001)
	for i := range ids {
		ids[i] = fmt.Sprintf("manyvisits%07d", i)
	}
	res := s.client.Do(testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1000000", M{"visits": M{"deleted": ids}})
	if res.Status != 413 || !strings.Contains(res.Body, "at most 20000 records") {
		t.Fatalf("20,001 records: %d %.200s", res.Status, res.Body)
	}
	huge := strings.Repeat("x", 17<<20)
	res = s.client.Do(testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1000000", `{"visits":{"created":[{"id":"abcdefghijklmnop","notes":"`+huge+`"}]}}`)
	if res.Status != 413 || !strings.Contains(res.Body, "16 MB") {
		t.Fatalf("17 MB body: %d %.200s", res.Status, res.Body)
	}
	if n := s.count("sync_conflicts"); n != 1 { // the fixture's
		t.Fatalf("an oversized push wrote %d conflict rows", n-1)
	}
}

func unix(s int64) time.Time { return time.Unix(s%(1<<40), 0) }

func TestPushRefusesAmbiguousJSON(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	for body, mention := range map[string]string{
		`{"visits":{"created":[{"id":"dupkeys00000001","customer":"customera000001","customer":"customerb000001"}]}}`: `duplicate`,
		"{\"visits\":{\"created\":[{\"id\":\"badutf8000000001\",\"notes\":\"\xff\xfe\"}]}}":                           `UTF-8`,
		`{"visits":{"created":[]}} trailing`: `invalid character`,
	} {
		res := s.client.Do(testapp.RepA, "POST", "/api/sync/push?last_pulled_at=1000000", body)
		if res.Status != 400 || !strings.Contains(res.Body, mention) {
			t.Errorf("%q: %d %s, want 400 mentioning %q", body, res.Status, res.Body, mention)
		}
	}
	if _, err := s.app.FindRecordById("visits", "dupkeys00000001"); err == nil {
		t.Fatal("an ambiguous record was written")
	}
}

// The server prepares the push's statements once: a push after start-up
// prepares only the update shapes it is the first to use, the cache learns
// those, and after a schema change pushes write the new column through
// statements of their own until the cache learns them too.
func TestPushStatementsArePreparedOnce(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	size, _, misses := rsync.StatementCacheForTest(s.app, "")
	if size < 20 || misses != 0 {
		t.Fatalf("after start-up the cache holds %d statements and pushes prepared %d, want 20 or more and none", size, misses)
	}
	at := s.pull(testapp.RepA, "null").Timestamp
	outcome := func(n int) M {
		return M{
			"visits": M{"created": []M{{"id": fmt.Sprintf("cachedvisit%04d", n), "customer": testapp.CustomerA, "purpose": "demo"}},
				"updated": []M{{"id": testapp.VisitA, "outcome": fmt.Sprintf("outcome %d", n), "_changed": "outcome"}}, "deleted": []string{}},
			"contacts": M{"created": []M{}, "updated": []M{}, "deleted": []string{testapp.ContactA}},
		}
	}
	if res := s.push(testapp.RepA, at, outcome(1)); len(res.Rejected) > 0 {
		t.Fatalf("push: %+v", res.Rejected)
	}
	shape := rsync.UpdateQueryForTest(crm.Visits, "outcome", "updated")
	_, _, misses = rsync.StatementCacheForTest(s.app, shape)
	if misses != 1 {
		t.Fatalf("the first push prepared %d statements itself, want 1 (its update shape)", misses)
	}
	waitForStatement(t, s.app, shape)
	at = s.pull(testapp.RepA, at).Timestamp
	if res := s.push(testapp.RepA, at, outcome(2)); len(res.Rejected) > 0 {
		t.Fatalf("push: %+v", res.Rejected)
	}
	if _, _, again := rsync.StatementCacheForTest(s.app, shape); again != misses {
		t.Errorf("the second push prepared %d statements itself, want none", again-misses)
	}

	// a new column: the cached INSERT does not name it, so the push
	// prepares the new one itself and the cache learns it by its text
	addColumn(t, s.app, crm.Visits, "weather")
	at = s.pull(testapp.RepA, at).Timestamp
	if res := s.push(testapp.RepA, at, outcome(3)); len(res.Rejected) > 0 {
		t.Fatalf("push after the schema change: %+v", res.Rejected)
	}
	if v, err := s.app.FindRecordById(crm.Visits, "cachedvisit0003"); err != nil || v.GetString("purpose") != "demo" {
		t.Fatalf("visit pushed after the schema change: %v %v", v, err)
	}
	if v, err := s.app.FindRecordById(crm.Visits, testapp.VisitA); err != nil || v.GetString("outcome") != "outcome 3" {
		t.Errorf("visit edited after the schema change: %v %v, want outcome 3", v, err)
	}
	insert := rsync.InsertQueryForTest(s.app, crm.Visits)
	if !strings.Contains(insert, `"weather"`) {
		t.Fatalf("insert after the schema change does not name the new column: %s", insert)
	}
	if _, _, after := rsync.StatementCacheForTest(s.app, insert); after <= misses {
		t.Errorf("the push after the schema change prepared nothing itself; it must not reuse the old INSERT")
	}
	waitForStatement(t, s.app, insert)
}

// TestPullStatementsArePreparedOnce: a pull's queries are prepared once on
// the read pool and reused by the pulls after it, and a pull after a
// schema change still reads what changed.
func TestPullStatementsArePreparedOnce(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	at := s.pull(testapp.RepA, "null").Timestamp
	edit := func(n int) {
		changes := M{"visits": M{"created": []M{}, "updated": []M{{"id": testapp.VisitA, "outcome": fmt.Sprintf("outcome %d", n), "_changed": "outcome"}}, "deleted": []string{}}}
		if res := s.push(testapp.RepA, at, changes); len(res.Rejected) > 0 {
			t.Fatalf("push: %+v", res.Rejected)
		}
	}
	edit(1)
	first := s.pull(testapp.RepA, at)
	size, has := settled(s.app)
	if !has || size < 3 {
		t.Fatalf("after an incremental pull the read cache holds %d statements (the feed's: %v), want 3 or more with it", size, has)
	}
	at = first.Timestamp
	edit(2)
	s.pull(testapp.RepA, at)
	if again, _ := settled(s.app); again != size {
		t.Errorf("a second pull of the same shape cached %d statements more, want none", again-size)
	}

	addColumn(t, s.app, crm.Visits, "weather")
	edit(3)
	got := s.pull(testapp.RepA, at)
	var outcome string
	for _, v := range got.Changes["visits"].Updated {
		if v["id"] == testapp.VisitA {
			outcome, _ = v["outcome"].(string)
		}
	}
	if outcome != "outcome 3" {
		t.Errorf("the pull after the schema change carried the visit's outcome %q, want outcome 3", outcome)
	}
}

// addColumn adds a text field to a collection: its table changes under the
// cached statements.
func addColumn(t *testing.T, app core.App, collection, name string) {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	c.Fields.Add(&core.TextField{Name: name})
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
}

// settled waits until the read cache, which learns a pull's texts in the
// background, has stopped growing, and returns its size and whether it
// holds the feed's query.
func settled(app core.App) (size int, feed bool) {
	stable := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && stable < 20; time.Sleep(10 * time.Millisecond) {
		n, has := rsync.ReadStatementsForTest(app, rsync.FeedQueryForTest())
		if n == size && has == feed {
			stable++
		} else {
			stable = 0
		}
		size, feed = n, has
	}
	return size, feed
}

func waitForStatement(t *testing.T, app core.App, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, has, _ := rsync.StatementCacheForTest(app, text); has {
			return
		}
	}
	t.Fatalf("the cache never learned %s", text)
}

// A push whose request is gone stops at the next record and changes
// nothing (its statements run without the request's cancellation; the
// push checks it between records).
func TestCancelledPushChangesNothing(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	before := s.count(crm.Visits)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := rsync.Push(ctx, s.app, rsync.PushRequest{Rep: testapp.UserRepA, Now: time.Now(), Changes: rsync.Changes{
		crm.Visits: {Created: []rsync.Raw{{"id": "cancelledvisit1", "customer": testapp.CustomerA}}},
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("push with a cancelled request: %v, want context.Canceled", err)
	}
	if n := s.count(crm.Visits); n != before {
		t.Errorf("a cancelled push left %d visits, want %d", n, before)
	}
}

// TestPushSaysWhenToSyncAgain: WatermelonDB pulls before it pushes, so the
// push answer says when the phone holds something other than the server
// (values the server computed, changes it has not pulled).
func TestPushSaysWhenToSyncAgain(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	again := func(name string, cursor int64, changes M, want bool) {
		t.Helper()
		res := s.push(testapp.RepA, cursor, changes)
		if res.SyncAgain == nil || *res.SyncAgain != want {
			t.Fatalf("%s: sync_again %v, want %v (%+v)", name, res.SyncAgain, want, res)
		}
	}
	title := M{"contacts": M{"created": []M{}, "deleted": []string{}, "updated": []M{{
		"id": testapp.ContactA, "customer": testapp.CustomerA, "name": "Contact of userrepa0000001", "title": "Buyer",
		"_status": "updated", "_changed": "title",
	}}}}
	again("an edit stored as sent", ts, title, false)
	again("nothing to push, nothing new", ts, M{}, false)

	visit := M{"visits": M{"updated": []M{}, "deleted": []string{}, "created": []M{{
		"id": "AgainVisit00001", "customer": testapp.CustomerA, "rep": "", "geo_status": "",
		"check_in_lat": 52.5202, "check_in_lng": 13.4052, "_status": "created", "_changed": "",
	}}}}
	again("a visit whose rep and geo status the server computed", ts, visit, true)
	again("the same push again: the server still differs from what was sent", ts, visit, true)

	ts = s.pull(testapp.RepA, ts).Timestamp
	again("after pulling the server's values", ts, M{}, false)
	c, _ := s.app.FindRecordById("customers", testapp.CustomerA)
	c.Set("phone", "+49 30 1234")
	if err := s.app.Save(c); err != nil {
		t.Fatal(err)
	}
	again("an admin changed the rep's customer after the pull", ts, M{}, true)
	x, _ := s.app.FindRecordById("customers", testapp.CustomerB)
	x.Set("phone", "+49 30 9999")
	if err := s.app.Save(x); err != nil {
		t.Fatal(err)
	}
	ts = s.pull(testapp.RepA, ts).Timestamp
	again("an admin changed another rep's customer", ts, M{}, false)
}

// TestRefusedAgainIsCountedNotRepeated: a record the device cannot get
// accepted comes back at every sync; admins see one row with a count, the
// latest version of the record, and when it was last seen.
func TestRefusedAgainIsCountedNotRepeated(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pull(testapp.RepA, "null").Timestamp
	line := func(qty float64) M {
		return M{"order_lines": M{"updated": []M{}, "deleted": []string{}, "created": []M{{
			"id": "RefusedLine0001", "order": testapp.OrderASubmitted, "product": testapp.ProductCups, "quantity": qty,
			"_status": "created", "_changed": "",
		}}}}
	}
	for i := 1; i <= 3; i++ {
		res := s.push(testapp.RepA, ts, line(float64(i)))
		if len(res.Rejected) != 1 {
			t.Fatalf("push %d: %+v", i, res)
		}
	}
	rows, err := s.app.FindAllRecords("sync_conflicts", dbx.HashExp{"record_id": "RefusedLine0001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].GetInt("count") != 3 || rows[0].GetDateTime("last_seen_at").IsZero() ||
		!strings.Contains(rows[0].GetString("client_value"), `"quantity":3`) {
		for _, r := range rows {
			t.Logf("%v", r.FieldsData())
		}
		t.Fatalf("%d rows for one record refused three times (want one, count 3, the latest version)", len(rows))
	}
	// another device of the same rep is stuck on its own row
	res := s.client.DoWithHeaders(testapp.RepA, http.MethodPost, fmt.Sprintf("/api/sync/push?last_pulled_at=%d", ts), line(4), map[string]string{"X-Device-Id": "tablet"})
	if res.Status != 200 {
		t.Fatal(res.Body)
	}
	if n, _ := s.app.CountRecords("sync_conflicts", dbx.HashExp{"record_id": "RefusedLine0001"}); n != 2 {
		t.Fatalf("%d rows after a second device", n)
	}
}

// TestAnEditBringsBackWhatTheServerDeleted: a device that edits a record
// the server deleted brings it back, with its edit, and the push reports
// and logs it (an edit beats a delete): whether the delete came after the
// device's last pull, or before it (a client that kept its edited record
// when the pull said it was deleted); a record the device creates under a
// new id is no such case.
func TestAnEditBringsBackWhatTheServerDeleted(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	const after, before, created = "visitgone000001", "visitgone000002", "visitnew0000001"
	for _, id := range []string{after, before} {
		if res := s.client.Do(testapp.Admin, "POST", "/api/collections/visits/records", M{
			"id": id, "customer": testapp.CustomerA, "rep": testapp.UserRepA, "purpose": "before the delete"}); res.Status != 200 {
			t.Fatal(res.Body)
		}
	}
	s.pull(testapp.RepA, "null")
	del := func(id string) {
		t.Helper()
		if res := s.client.Do(testapp.Admin, "DELETE", "/api/collections/visits/records/"+id, nil); res.Status != 204 {
			t.Fatal(res.Body)
		}
	}
	del(before)
	ts := s.pull(testapp.RepA, "null").Timestamp // the device's last pull: after one delete, before the other
	del(after)
	res := s.push(testapp.RepA, ts, M{"visits": M{"created": []M{
		{"id": created, "customer": testapp.CustomerA, "purpose": "new", "_status": "created", "_changed": ""},
	}, "deleted": []string{}, "updated": []M{
		{"id": after, "customer": testapp.CustomerA, "purpose": "edited offline", "_status": "updated", "_changed": "purpose"},
		{"id": before, "customer": testapp.CustomerA, "purpose": "edited offline", "_status": "updated", "_changed": "purpose"},
	}}})
	restored := map[string]bool{}
	for _, c := range res.Conflicts {
		if c.Resolution == conflict.Restored {
			restored[c.ID] = true
		}
	}
	if restored[created] || len(restored) != 2 {
		t.Errorf("restored in the push's answer: %v, want %s and %s", restored, after, before)
	}
	for _, id := range []string{after, before} {
		v, err := s.app.FindRecordById(crm.Visits, id)
		if err != nil || v.GetString("purpose") != "edited offline" {
			t.Errorf("%s, deleted and edited offline, is not back with its edit: %v", id, err)
		}
		if !restored[id] {
			t.Errorf("%s: the push does not report it restored", id)
		}
		logged, err := s.app.FindRecordsByFilter(crm.SyncConflicts, "record_id = {:id} && resolution = {:r} && rule = {:rule}", "", 0, 0,
			map[string]any{"id": id, "r": conflict.Restored, "rule": conflict.RuleEditBeatsDel})
		if err != nil || len(logged) != 1 {
			t.Errorf("%s: sync_conflicts holds %d rows of the restore, want 1 (%v)", id, len(logged), err)
		}
	}
}
