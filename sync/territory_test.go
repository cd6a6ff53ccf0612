package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	"rounds/internal/testapp"
	rsync "rounds/sync"
)

// pullV2 pulls with schema version 2 (tombstones); extra is appended to
// the query.
func (s *syncClient) pullV2(actor string, cursor any, extra string) pullResult {
	s.t.Helper()
	res := s.client.Do(actor, http.MethodGet, fmt.Sprintf("/api/sync/pull?last_pulled_at=%v&schema_version=%d%s", cursor, rsync.SchemaVersion, extra), nil)
	if res.Status != 200 {
		s.t.Fatalf("pull: %d %s", res.Status, res.Body)
	}
	var out pullResult
	res.JSON(s.t, &out)
	return out
}

// tombstones returns the ids a pull sent as tombstones (removed_at set)
// and the ids it sent live, per table.
func (p pullResult) split(table string) (tombs, live []string) {
	for _, r := range p.Changes[table].Updated {
		if r[rsync.RemovedColumn] != nil {
			tombs = append(tombs, r["id"].(string))
		} else {
			live = append(live, r["id"].(string))
		}
	}
	slices.Sort(tombs)
	slices.Sort(live)
	return tombs, live
}

// theDay is rep A's offline work on CustomerA: an edit of VisitA (which
// the office deletes meanwhile), the customer's notes, a new visit and a
// promised follow-up.
func theDay() M {
	return M{
		"customers": M{"created": []M{}, "deleted": []string{}, "updated": []M{{
			"id": testapp.CustomerA, "notes": "wants delivery on Fridays", "removed_at": 1.7e12, "_status": "updated", "_changed": "notes",
		}}},
		"visits": M{"deleted": []string{}, "updated": []M{{
			"id": testapp.VisitA, "customer": testapp.CustomerA, "notes": "promised 5 % off on the next order",
			"removed_at": 1.7e12, "_status": "updated", "_changed": "notes",
		}}, "created": []M{{
			"id": "DayVisitLogged01", "customer": testapp.CustomerA, "purpose": "tasting", "_status": "created", "_changed": "",
		}}},
		"follow_ups": M{"deleted": []string{}, "updated": []M{}, "created": []M{{
			"id": "DayPromise000001", "customer": testapp.CustomerA, "note": "send the Friday delivery schedule",
			"status": "open", "due_at": float64(time.Now().Add(24 * time.Hour).UnixMilli()), "_status": "created", "_changed": "",
		}}},
	}
}

func (s *syncClient) officeDeletesAndReassigns() {
	s.t.Helper()
	if res := s.client.Do(testapp.Admin, "DELETE", "/api/collections/visits/records/"+testapp.VisitA, nil); res.Status != 204 {
		s.t.Fatalf("delete visit: %d %s", res.Status, res.Body)
	}
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{"owner": testapp.UserRepB}); res.Status != 200 {
		s.t.Fatalf("reassign: %d %s", res.Status, res.Body)
	}
}

// TestTerritoryChangeKeepsTheWork is the day of issue 12 at the protocol
// level: the rep's pull after the office deleted a visit and handed the
// customer over names them as tombstones (WatermelonDB keeps the unsynced
// edits), the push that follows lands the work in the customer's history
// (the deleted visit restored, the promise handed to the new owner, who is
// told), and only the pull after that deletes them from the phone.
func TestTerritoryChangeKeepsTheWork(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	morning := s.pullV2(testapp.RepA, "null", "").Timestamp
	b := s.pullV2(testapp.RepB, "null", "").Timestamp
	s.officeDeletesAndReassigns()

	// the open follow-up rep A held went to rep B, who was told
	f, _ := s.app.FindRecordById("follow_ups", testapp.FollowUpA)
	if f.GetString("assignee") != testapp.UserRepB {
		t.Fatalf("the open follow-up stayed with %s", f.GetString("assignee"))
	}
	told := func(followUp string) bool {
		n, _ := s.app.FindAllRecords("notifications", dbx.HashExp{"user": testapp.UserRepB, "kind": crm.NoticeHandedOver})
		for _, r := range n {
			if strings.Contains(r.GetString("data"), followUp) {
				return true
			}
		}
		return false
	}
	if !told(testapp.FollowUpA) {
		t.Fatal("rep B was not told of the follow-up handed over")
	}

	evening := s.pullV2(testapp.RepA, morning, "")
	for table, want := range map[string][]string{
		"customers": {testapp.CustomerA}, "contacts": {testapp.ContactA}, "visits": {testapp.VisitA},
		"follow_ups": {testapp.FollowUpA}, "orders": {testapp.OrderA, testapp.OrderASubmitted},
		"order_lines": {testapp.LineA, testapp.LineASubmitted},
	} {
		tombs, live := evening.split(table)
		slices.Sort(want)
		if !slices.Equal(tombs, want) || len(live) > 0 || len(evening.Changes[table].Deleted) > 0 {
			t.Errorf("first pull after the change, %s: tombstones %v live %v deleted %v; want tombstones %v only",
				table, tombs, live, evening.Changes[table].Deleted, want)
		}
	}
	res := s.push(testapp.RepA, evening.Timestamp, theDay())
	if len(res.Rejected) > 0 {
		t.Fatalf("the day's work was refused: %+v", res.Rejected)
	}
	if res.SyncAgain == nil || !*res.SyncAgain {
		t.Fatal("the push after tombstones did not ask for another sync")
	}
	v, err := s.app.FindRecordById("visits", testapp.VisitA)
	if err != nil || v.GetString("notes") != "promised 5 % off on the next order" {
		t.Fatalf("the deleted visit was not restored with the edit: %v %v", err, v)
	}
	c, _ := s.app.FindRecordById("customers", testapp.CustomerA)
	if c.GetString("notes") != "wants delivery on Fridays" || c.GetString("owner") != testapp.UserRepB {
		t.Fatalf("customer: notes %q owner %s", c.GetString("notes"), c.GetString("owner"))
	}
	lv, err := s.app.FindRecordById("visits", "DayVisitLogged01")
	if err != nil || lv.GetString("rep") != testapp.UserRepA {
		t.Fatalf("the visit logged offline: %v %v", err, lv)
	}
	pf, err := s.app.FindRecordById("follow_ups", "DayPromise000001")
	if err != nil || pf.GetString("assignee") != testapp.UserRepB {
		t.Fatalf("the promise: %v %v", err, pf)
	}
	if !told("DayPromise000001") {
		t.Fatal("rep B was not told of the promise made before the change")
	}

	// the new owner's next pull carries it all
	pb := s.pullV2(testapp.RepB, b, "")
	for table, id := range map[string]string{"customers": testapp.CustomerA, "visits": "DayVisitLogged01", "follow_ups": "DayPromise000001"} {
		if _, live := pb.split(table); !slices.Contains(live, id) {
			t.Errorf("rep B's pull lacks %s %s", table, id)
		}
	}
	if _, live := pb.split("visits"); !slices.Contains(live, testapp.VisitA) {
		t.Error("rep B's pull lacks the restored visit")
	}

	// a pull after an unfinished sync keeps them tombstones ...
	held := s.pullV2(testapp.RepA, evening.Timestamp, "&unfinished=true")
	for _, table := range []string{"customers", "visits", "follow_ups"} {
		if d := held.Changes[table].Deleted; len(d) > 0 {
			t.Errorf("a pull after an unfinished sync deleted %s %v", table, d)
		}
	}
	// ... and the next finished one deletes everything rep A knew, and
	// what they pushed under the customer since
	next := s.pullV2(testapp.RepA, held.Timestamp, "")
	for table, want := range map[string][]string{
		"customers": {testapp.CustomerA}, "contacts": {testapp.ContactA},
		"visits":     {testapp.VisitA, "DayVisitLogged01"},
		"follow_ups": {testapp.FollowUpA, "DayPromise000001"},
	} {
		got := next.Changes[table].Deleted
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("the pull after: %s deleted %v, want %v", table, got, want)
		}
		if tombs, live := next.split(table); len(tombs)+len(live) > 0 {
			t.Errorf("the pull after still sends %s: %v %v", table, tombs, live)
		}
	}
	// and a device on schema 1 got the deletion at once
	if p := s.pull(testapp.RepA, morning); !slices.Contains(p.Changes["customers"].Deleted, testapp.CustomerA) {
		t.Errorf("schema 1: customer not deleted at once: %+v", p.Changes["customers"])
	}
}

// TestTerritoryGraceEnds: past the grace, the previous owner's work under
// the customer is refused (and kept in sync_conflicts for an admin).
func TestTerritoryGraceEnds(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	morning := s.pullV2(testapp.RepA, "null", "").Timestamp
	s.officeDeletesAndReassigns()
	evening := s.pullV2(testapp.RepA, morning, "").Timestamp
	changes, err := rsync.DecodeChanges([]byte(mustJSON(t, theDay())))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after   time.Duration
		refused bool
	}{{8 * 24 * time.Hour, true}, {6 * 24 * time.Hour, false}} {
		res, err := rsync.Push(context.Background(), s.app, rsync.PushRequest{
			Rep: testapp.UserRepA, LastPulledAt: evening, Changes: changes,
			Now: time.Now().Add(c.after), Grace: 7 * 24 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Rejected) == 4; got != c.refused {
			t.Fatalf("%v after the change: %d of 4 refused (%+v)", c.after, len(res.Rejected), res.Rejected)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestGraceCoversOnlyWhatTheDeviceHeld: inside the grace of a hand-over,
// rep A's device may still change what was under the customer before it
// left, and what A wrote since; not what the new owner added afterwards
// (a visit, a draft order and its lines), even when A's device sends the
// new owner's device id.
func TestGraceCoversOnlyWhatTheDeviceHeld(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	morning := s.pullV2(testapp.RepA, "null", "").Timestamp
	if res := s.client.Do(testapp.Admin, "PATCH", "/api/collections/customers/records/"+testapp.CustomerA, M{"owner": testapp.UserRepB}); res.Status != 200 {
		t.Fatalf("hand over: %d %s", res.Status, res.Body)
	}
	pushAs := func(actor, device string, changes M) pushResult {
		t.Helper()
		res := s.client.DoWithHeaders(actor, http.MethodPost, fmt.Sprintf("/api/sync/push?last_pulled_at=%d", morning), changes, map[string]string{"X-Device-Id": device})
		if res.Status != 200 {
			t.Fatalf("push as %s: %d %s", actor, res.Status, res.Body)
		}
		var out pushResult
		res.JSON(t, &out)
		return out
	}
	// the new owner's work under the customer, after the hand-over
	b := pushAs(testapp.RepB, "phone-of-b", M{
		"visits": M{"created": []M{{"id": "VisitOfNewOwner1", "customer": testapp.CustomerA, "notes": "B was here", "_status": "created", "_changed": ""}}, "updated": []M{}, "deleted": []string{}},
		"orders": M{"created": []M{{"id": "OrderOfNewOwner1", "customer": testapp.CustomerA, "currency": "EUR", "status": "draft", "_status": "created", "_changed": ""}}, "updated": []M{}, "deleted": []string{}},
	})
	if len(b.Rejected) != 0 {
		t.Fatalf("the new owner's push: %+v", b.Rejected)
	}
	edit := func(table, id string, extra M) M {
		r := M{"id": id, "customer": testapp.CustomerA, "notes": "A's edit", "_status": "updated", "_changed": "notes"}
		for k, v := range extra {
			r[k] = v
		}
		return M{table: M{"created": []M{}, "updated": []M{r}, "deleted": []string{}}}
	}
	line := M{"order_lines": M{"created": []M{{"id": "LineOnBsOrder001", "order": "OrderOfNewOwner1", "product": testapp.ProductCoffee, "quantity": 1, "_status": "created", "_changed": ""}}, "updated": []M{}, "deleted": []string{}}}
	for _, c := range []struct {
		name, device string
		changes      M
		refused      bool
	}{
		{"A edits a visit from before", "phone-of-a", edit("visits", testapp.VisitA, nil), false},
		{"A logs a new visit", "phone-of-a", M{"visits": M{"created": []M{{"id": "VisitOfOldOwner1", "customer": testapp.CustomerA, "notes": "offline", "_status": "created", "_changed": ""}}, "updated": []M{}, "deleted": []string{}}}, false},
		{"A edits that visit again", "another-phone-of-a", edit("visits", "VisitOfOldOwner1", nil), false},
		{"A edits B's visit", "phone-of-a", edit("visits", "VisitOfNewOwner1", nil), true},
		{"A edits B's visit as B's phone", "phone-of-b", edit("visits", "VisitOfNewOwner1", nil), true},
		{"A deletes B's visit", "phone-of-a", M{"visits": M{"created": []M{}, "updated": []M{}, "deleted": []string{"VisitOfNewOwner1"}}}, true},
		{"A edits B's order", "phone-of-a", edit("orders", "OrderOfNewOwner1", M{"currency": "EUR", "status": "draft"}), true},
		{"A adds a line to B's order", "phone-of-a", line, true},
	} {
		res := pushAs(testapp.RepA, c.device, c.changes)
		if refused := len(res.Rejected) > 0; refused != c.refused {
			t.Fatalf("%s: refused %v, want %v (%+v)", c.name, refused, c.refused, res.Rejected)
		}
		if c.refused && !strings.Contains(res.Rejected[0].Reason, "added after its customer was handed to another rep") {
			t.Fatalf("%s: the reason does not say why: %q", c.name, res.Rejected[0].Reason)
		}
	}
	v, err := s.app.FindRecordById("visits", "VisitOfNewOwner1")
	if err != nil || v.GetString("notes") != "B was here" {
		t.Fatalf("B's visit after A's pushes: %v %q", err, v.GetString("notes"))
	}
	if n, _ := s.app.CountRecords("order_lines", dbx.HashExp{"order": "OrderOfNewOwner1"}); n != 0 {
		t.Fatalf("A added %d lines to B's order", n)
	}
}
