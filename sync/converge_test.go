package sync_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
	rsync "rounds/sync"
	"rounds/sync/conflict"
)

// device is a model of a WatermelonDB 0.28 database and its synchronize()
// (sync/impl/synchronize.js, applyRemote.js, helpers.js): pull, apply the
// remote changes — records named in deleted are destroyed whatever their
// local status; an updated record with local changes keeps the local value
// of each column in _changed and stays dirty; an update of a record deleted
// locally is skipped; an update of a missing record creates it
// (sendCreatedAsUpdated) with the schema's defaults for columns it lacks —
// store the cursor, then push what is dirty with the new cursor. The app
// around it is README's client: it syncs again while the push answers
// sync_again, tells the pull when the previous synchronize() did not
// finish, and hides records with removed_at set.
type device struct {
	name         string
	actor        string // testapp actor, for its token
	rep          string
	id           string
	lastPulledAt *int64
	tables       map[string]map[string]M // table -> id -> raw (with _status, _changed)
	unfinished   bool                    // the last synchronize() threw
	// unpushed: records with local writes that no push has carried yet
	// ("table/id"); a write must reach a push (and so the server or
	// sync_conflicts) before anything destroys it
	unpushed map[string]bool
}

func newDevice(name, actor, rep string) *device {
	d := &device{name: name, actor: actor, rep: rep, id: "dev-" + name, tables: map[string]map[string]M{}, unpushed: map[string]bool{}}
	for _, t := range rsync.Tables {
		d.tables[t.Name] = map[string]M{}
	}
	return d
}

type world struct {
	t   *testing.T
	app *tests.TestApp
	srv *httptest.Server
	rng *rand.Rand
	seq int
}

func (w *world) do(actor, method, path string, body any, device string) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if tok := testapp.Token(w.t, actor); tok != "" {
		req.Header.Set("Authorization", tok)
	}
	if device != "" {
		req.Header.Set("X-Device-Id", device)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// pull runs a pull and applies it like WatermelonDB's incremental strategy.
func (w *world) pull(d *device) {
	w.t.Helper()
	cursor := "null"
	if d.lastPulledAt != nil {
		cursor = fmt.Sprint(*d.lastPulledAt)
	}
	status, body := w.do(d.actor, "GET", fmt.Sprintf("/api/sync/pull?last_pulled_at=%s&schema_version=%d&unfinished=%v", cursor, rsync.SchemaVersion, d.unfinished), nil, d.id)
	if status != 200 {
		w.t.Fatalf("%s pull: %d %s", d.name, status, body)
	}
	var p pullResult
	if err := json.Unmarshal(body, &p); err != nil {
		w.t.Fatalf("%s pull: %v", d.name, err)
	}
	for table, c := range p.Changes {
		local := d.tables[table]
		for _, remote := range append(c.Created, c.Updated...) {
			id := remote["id"].(string)
			l, ok := local[id]
			switch {
			case !ok:
				created := w.defaults(table)
				for k, v := range remote {
					created[k] = v
				}
				created["_status"], created["_changed"] = "synced", ""
				local[id] = created
			case l["_status"] == "deleted":
			default:
				resolved := M{}
				for k, v := range l {
					resolved[k] = v
				}
				for k, v := range remote {
					resolved[k] = v
				}
				resolved["_status"], resolved["_changed"] = l["_status"], l["_changed"]
				for _, col := range strings.Split(l["_changed"].(string), ",") {
					if col != "" {
						resolved[col] = l[col]
					}
				}
				local[id] = resolved
			}
		}
		for _, id := range c.Deleted {
			if l, ok := local[id]; ok && l["_status"] != "synced" && l["_status"] != "deleted" && d.unpushed[table+"/"+id] {
				w.t.Fatalf("%s: the pull deleted %s/%s, which holds writes no push has carried (%v): WatermelonDB destroys them", d.name, table, id, l["_status"])
			}
			delete(local, id)
			delete(d.unpushed, table+"/"+id)
		}
	}
	ts := p.Timestamp
	if d.lastPulledAt != nil && ts < *d.lastPulledAt {
		w.t.Fatalf("%s: the cursor went back from %d to %d (WatermelonDB rejects this)", d.name, *d.lastPulledAt, ts)
	}
	d.lastPulledAt = &ts
}

// push sends local changes; with lose set, the response never arrives.
// It reports the push's sync_again.
func (w *world) push(d *device, lose bool) bool {
	w.t.Helper()
	changes := M{}
	type sent struct {
		table, id string
		raw       M
		deleted   bool
	}
	var all []sent
	for _, t := range rsync.Tables {
		tc := M{"created": []M{}, "updated": []M{}, "deleted": []string{}}
		ids := keysOf(d.tables[t.Name])
		for _, id := range ids {
			r := d.tables[t.Name][id]
			switch r["_status"] {
			case "created":
				tc["created"] = append(tc["created"].([]M), r)
				all = append(all, sent{t.Name, id, copyM(r), false})
			case "updated":
				tc["updated"] = append(tc["updated"].([]M), r)
				all = append(all, sent{t.Name, id, copyM(r), false})
			case "deleted":
				tc["deleted"] = append(tc["deleted"].([]string), id)
				all = append(all, sent{t.Name, id, nil, true})
			}
		}
		changes[t.Name] = tc
	}
	if len(all) == 0 {
		return false // WatermelonDB does not push when nothing is dirty
	}
	status, body := w.do(d.actor, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", *d.lastPulledAt), changes, d.id)
	if status != 200 {
		w.t.Fatalf("%s push: %d %s", d.name, status, body)
	}
	var res pushResult
	if err := json.Unmarshal(body, &res); err != nil {
		w.t.Fatal(err)
	}
	// nothing a device sent is lost: it is in the data, or in sync_conflicts
	for _, s := range all {
		w.checkKept(d, s.table, s.id, s.raw, s.deleted, slices.Contains(res.ExperimentalRejectedIDs[s.table], s.id))
		delete(d.unpushed, s.table+"/"+s.id)
	}
	if lose {
		return false
	}
	for _, s := range all {
		if slices.Contains(res.ExperimentalRejectedIDs[s.table], s.id) {
			continue
		}
		if s.deleted {
			delete(d.tables[s.table], s.id)
			continue
		}
		r := d.tables[s.table][s.id]
		r["_status"], r["_changed"] = "synced", ""
	}
	return res.SyncAgain != nil && *res.SyncAgain
}

func copyM(m M) M {
	out := M{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func keysOf(m map[string]M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (w *world) conflictLogged(table, id, field string, value any) bool {
	rows, err := w.app.FindRecordsByFilter(crm.SyncConflicts, "collection = {:t} && record_id = {:id}", "", 0, 0,
		map[string]any{"t": table, "id": id})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range rows {
		if r.GetString("resolution") == conflict.Rejected || r.GetString("resolution") == conflict.Restored {
			return true
		}
		if r.GetString("field") == field {
			var v any
			_ = json.Unmarshal([]byte(r.GetString("client_value")), &v)
			if sameWire(v, value) {
				return true
			}
		}
	}
	return false
}

func (w *world) checkKept(d *device, table, id string, raw M, deleted, rejected bool) {
	w.t.Helper()
	if rejected {
		if !w.conflictLogged(table, id, "", nil) {
			w.t.Fatalf("%s: refused %s/%s is not in sync_conflicts", d.name, table, id)
		}
		return
	}
	r, err := w.app.FindRecordById(table, id)
	if deleted {
		if err == nil && !w.conflictLogged(table, id, "*", nil) {
			w.t.Fatalf("%s: deleted %s/%s is still there and no conflict says why", d.name, table, id)
		}
		return
	}
	if err != nil {
		w.t.Fatalf("%s: pushed %s/%s is missing on the server", d.name, table, id)
	}
	t, _ := rsync.TableByName(table)
	cols := strings.Split(raw["_changed"].(string), ",")
	if raw["_status"] == "created" {
		cols = nil
		for _, c := range t.DataColumns() {
			if policy.For(table).DeviceField(c.Name, true) == policy.FieldFree {
				cols = append(cols, c.Name)
			}
		}
	}
	for _, col := range cols {
		c, ok := t.Column(col)
		if !ok || col == "updated" || col == "created" {
			continue
		}
		server := wireOf(c, r)
		sent := raw[col]
		if sameWire(server, sent) {
			continue
		}
		if s, ok := server.(string); ok && rsync.NoteColumns[table+"."+col] && strings.Contains(s, fmt.Sprint(sent)) {
			continue
		}
		if !w.conflictLogged(table, id, col, sent) {
			w.t.Fatalf("%s: %s/%s.%s = %v was lost: the server has %v and sync_conflicts has no trace", d.name, table, id, col, sent, server)
		}
	}
}

// sameWire is the sync checks' own equality of two wire values: null and ""
// alike, numbers by value. It is not conflict.Equal, which the push itself
// compares with: a fault there must not blind the check to what it lost.
func sameWire(a, b any) bool {
	norm := func(v any) any {
		switch x := v.(type) {
		case nil:
			return ""
		case int:
			return float64(x)
		case int64:
			return float64(x)
		}
		return v
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// wireOf reads a stored column in wire form.
func wireOf(c rsync.Column, r *core.Record) any {
	switch c.Kind {
	case rsync.Number:
		return r.GetFloat(c.Name)
	case rsync.Bool:
		return r.GetBool(c.Name)
	case rsync.Date:
		if r.GetDateTime(c.Name).IsZero() {
			return nil
		}
		return float64(r.GetDateTime(c.Name).Time().UnixMilli())
	case rsync.Relation:
		if r.GetString(c.Name) == "" {
			return nil
		}
	}
	return r.GetString(c.Name)
}

// sync is README's client loop: synchronize(), again while the push
// answers sync_again (three rounds at most); a push whose request or
// response is lost throws, and the next pull is told the previous sync did
// not finish.
func (w *world) sync(d *device, lose bool) {
	for round := 0; round < 3; round++ {
		lose = lose && round == 0
		w.pull(d)           // tells whether the previous synchronize() finished
		d.unfinished = true // until this one does
		if lose && w.rng.IntN(2) == 0 {
			return // the push request never arrived: the device keeps everything dirty
		}
		again := w.push(d, lose)
		if lose {
			return
		}
		d.unfinished = false
		if !again {
			return
		}
	}
}

// defaults is a raw record of table with WatermelonDB's sanitizedRaw
// defaults: "" for text, 0 for numbers, false for booleans, null for
// optional columns (relations, dates, removed_at).
func (w *world) defaults(table string) M {
	t, _ := rsync.TableByName(table)
	raw := M{}
	for _, c := range t.Columns {
		switch c.Kind {
		case rsync.Text:
			raw[c.Name] = ""
		case rsync.Number:
			raw[c.Name] = 0.0
		case rsync.Bool:
			raw[c.Name] = false
		default:
			raw[c.Name] = nil
		}
	}
	if t.Tombstones() {
		raw[rsync.RemovedColumn] = nil
	}
	return raw
}

// newRaw builds a full raw record with WatermelonDB's defaults.
func (w *world) newRaw(d *device, table string, values M) M {
	t, _ := rsync.TableByName(table)
	w.seq++
	now := float64(time.Now().UnixMilli())
	raw := w.defaults(t.Name)
	raw["id"], raw["_status"], raw["_changed"] = fmt.Sprintf("%sx%04dxq%07d", d.name, w.seq, w.rng.IntN(1e7)), "created", ""
	raw["created"], raw["updated"] = now, now
	for k, v := range values {
		raw[k] = v
	}
	d.tables[table][raw["id"].(string)] = raw
	d.unpushed[table+"/"+raw["id"].(string)] = true
	return raw
}

func (w *world) pick(ids []string) string { return ids[w.rng.IntN(len(ids))] }

func (d *device) ids(table string, keep func(M) bool) []string {
	var out []string
	for _, id := range keysOf(d.tables[table]) {
		r := d.tables[table][id]
		if r["_status"] != "deleted" && r[rsync.RemovedColumn] == nil && (keep == nil || keep(r)) { // the app hides tombstones
			out = append(out, id)
		}
	}
	return out
}

func (w *world) edit(d *device, table, id string, values M) {
	r := d.tables[table][id]
	changed := strings.Split(r["_changed"].(string), ",")
	for k, v := range values {
		r[k] = v
		if !slices.Contains(changed, k) {
			changed = append(changed, k)
		}
	}
	r["updated"] = float64(time.Now().UnixMilli())
	if r["_status"] == "synced" {
		r["_status"] = "updated"
	}
	if r["_status"] == "updated" {
		r["_changed"] = strings.Trim(strings.Join(changed, ","), ",")
	}
	d.unpushed[table+"/"+id] = true
}

// remove is markAsDeleted: even a record never pushed is kept as deleted
// until a push succeeds (its create may have arrived with a lost response).
func (w *world) remove(d *device, table, id string) {
	d.tables[table][id]["_status"] = "deleted"
	d.unpushed[table+"/"+id] = true
}

// deviceOp is one random offline action.
func (w *world) deviceOp(d *device) {
	customers := d.ids(crm.Customers, nil)
	if len(customers) == 0 {
		return
	}
	drafts := d.ids(crm.Orders, func(r M) bool { return r["status"] == "draft" })
	switch op := w.rng.IntN(12); op {
	case 10: // a deal found on site
		if stages := d.ids(crm.Stages, func(r M) bool { return r["outcome"] == crm.OutcomeOpen }); len(stages) > 0 {
			w.newRaw(d, crm.Opportunities, M{"customer": w.pick(customers), "title": fmt.Sprintf("Deal %d", w.seq+1), "amount": float64(100 * (1 + w.rng.IntN(50))),
				"currency": "EUR", "stage": w.pick(stages), "notes": fmt.Sprintf("%s found it", d.name)})
		}
	case 11: // a deal moves on, or its notes grow
		deals := d.ids(crm.Opportunities, nil)
		stages := d.ids(crm.Stages, func(r M) bool { return r["outcome"] == crm.OutcomeOpen })
		if len(deals) > 0 && len(stages) > 0 {
			if w.rng.IntN(2) == 0 {
				w.edit(d, crm.Opportunities, w.pick(deals), M{"stage": w.pick(stages)})
			} else {
				w.edit(d, crm.Opportunities, w.pick(deals), M{"notes": fmt.Sprintf("%s: call %d", d.name, w.rng.IntN(100)), "amount": float64(100 * (1 + w.rng.IntN(50)))})
			}
		}
	case 0:
		marker := fmt.Sprintf("visit-%d", w.seq+1)
		w.newRaw(d, crm.Visits, M{"customer": w.pick(customers), "purpose": marker, "checked_in_at": float64(time.Now().UnixMilli())})
	case 1:
		w.newRaw(d, crm.Contacts, M{"customer": w.pick(customers), "name": fmt.Sprintf("Person %d", w.seq+1), "birthday": "02-29"})
	case 2:
		w.newRaw(d, crm.FollowUps, M{"customer": w.pick(customers), "assignee": d.rep, "due_at": float64(time.Now().Add(24 * time.Hour).UnixMilli()), "note": "call back", "status": "open"})
	case 3:
		o := w.newRaw(d, crm.Orders, M{"customer": w.pick(customers), "status": "draft", "currency": "EUR"})
		w.newRaw(d, crm.OrderLines, M{"order": o["id"], "product": testapp.ProductCoffee, "quantity": float64(1 + w.rng.IntN(5))})
	case 4, 5:
		id := w.pick(customers)
		field := []string{"phone", "notes", "address", "name"}[w.rng.IntN(4)]
		value := map[string]string{"phone": fmt.Sprintf("+49 30 %d", w.rng.IntN(1e6)), "notes": fmt.Sprintf("%s says %d", d.name, w.rng.IntN(1000)),
			"address": fmt.Sprintf("%d Rue %s", w.rng.IntN(99), d.name), "name": fmt.Sprintf("Shop %d", w.rng.IntN(50))}[field]
		w.edit(d, crm.Customers, id, M{field: value})
	case 6:
		if visits := d.ids(crm.Visits, nil); len(visits) > 0 {
			w.edit(d, crm.Visits, w.pick(visits), M{"outcome": fmt.Sprintf("outcome %d by %s", w.rng.IntN(100), d.name), "notes": fmt.Sprintf("note %d", w.rng.IntN(100))})
		}
	case 7:
		if len(drafts) > 0 {
			id := w.pick(drafts)
			if w.rng.IntN(3) == 0 {
				w.edit(d, crm.Orders, id, M{"status": "submitted"})
			} else if lines := d.ids(crm.OrderLines, func(r M) bool { return r["order"] == id }); len(lines) > 0 {
				w.edit(d, crm.OrderLines, w.pick(lines), M{"quantity": float64(1 + w.rng.IntN(9)), "discount_pct": float64(5 * w.rng.IntN(3))})
			}
		}
	case 8:
		table := []string{crm.Visits, crm.FollowUps, crm.Contacts}[w.rng.IntN(3)]
		if ids := d.ids(table, nil); len(ids) > 0 {
			w.remove(d, table, w.pick(ids))
		}
	case 9:
		if contacts := d.ids(crm.Contacts, nil); len(contacts) > 0 {
			w.edit(d, crm.Contacts, w.pick(contacts), M{"title": fmt.Sprintf("Title %d", w.rng.IntN(100))})
		}
	}
}

// adminOp is a random dashboard (REST) write against the same records.
func (w *world) adminOp(reps []string) {
	list := func(table string) []string {
		var ids []string
		if err := w.app.DB().NewQuery("SELECT id FROM " + table + " ORDER BY id").Column(&ids); err != nil {
			w.t.Fatal(err)
		}
		return ids
	}
	customers := list(crm.Customers)
	switch w.rng.IntN(8) {
	case 0, 1:
		id := w.pick(customers)
		w.rest("PATCH", "/api/collections/customers/records/"+id, M{"notes": fmt.Sprintf("admin note %d", w.rng.IntN(1000)), "phone": fmt.Sprintf("+1 212 %d", w.rng.IntN(1e6))})
	case 2: // hand a customer to another rep
		id := w.pick(customers)
		w.rest("PATCH", "/api/collections/customers/records/"+id, M{"owner": w.pick(reps)})
	case 3:
		if visits := list(crm.Visits); len(visits) > 0 {
			w.rest("DELETE", "/api/collections/visits/records/"+w.pick(visits), nil)
		}
	case 4:
		if contacts := list(crm.Contacts); len(contacts) > 0 {
			w.rest("PATCH", "/api/collections/contacts/records/"+w.pick(contacts), M{"title": fmt.Sprintf("Admin title %d", w.rng.IntN(100))})
		}
	case 5:
		var drafts []string
		_ = w.app.DB().NewQuery("SELECT id FROM orders WHERE status = 'draft' ORDER BY id").Column(&drafts)
		if len(drafts) > 0 {
			w.rest("PATCH", "/api/collections/orders/records/"+w.pick(drafts), M{"status": "submitted"})
		}
	case 6: // the office deletes a contact or a follow-up
		table := []string{crm.Contacts, crm.FollowUps}[w.rng.IntN(2)]
		if ids := list(table); len(ids) > 0 {
			w.rest("DELETE", "/api/collections/"+table+"/records/"+w.pick(ids), nil)
		}
	case 7: // a territory change, often of a customer someone is working on
		id := w.pick(customers)
		w.rest("PATCH", "/api/collections/customers/records/"+id, M{"owner": w.pick(reps)})
	}
}

func (w *world) rest(method, path string, body any) {
	w.t.Helper()
	status, data := w.do(testapp.Admin, method, path, body, "")
	if status >= 300 && status != 404 {
		w.t.Fatalf("admin %s %s: %d %s", method, path, status, data)
	}
}

// equalsServer checks a device against a fresh full pull of its rep's scope.
func (w *world) equalsServer(d *device) {
	w.t.Helper()
	status, body := w.do(d.actor, "GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, "")
	if status != 200 {
		w.t.Fatalf("full pull: %d", status)
	}
	var p pullResult
	if err := json.Unmarshal(body, &p); err != nil {
		w.t.Fatal(err)
	}
	if len(d.unpushed) > 0 {
		w.t.Fatalf("%s holds writes no push carried: %v", d.name, keys(d.unpushed))
	}
	for _, t := range rsync.Tables {
		remote := map[string]M{}
		for _, r := range p.Changes[t.Name].Updated {
			remote[r["id"].(string)] = r
		}
		for id, l := range d.tables[t.Name] {
			if l["_status"] != "synced" {
				continue // refused records stay unsynced; they were checked against sync_conflicts
			}
			if l[rsync.RemovedColumn] != nil {
				w.t.Fatalf("%s still holds the tombstone of %s/%s after everyone synced", d.name, t.Name, id)
			}
			r, ok := remote[id]
			if !ok {
				w.t.Fatalf("%s holds %s/%s, which is not in its rep's scope", d.name, t.Name, id)
			}
			// created and updated are bookkeeping: a device keeps its own
			// edit time until the server next changes the record
			for _, c := range t.DataColumns() {
				if !sameWire(l[c.Name], r[c.Name]) {
					w.t.Fatalf("%s: %s/%s.%s is %v on the device, %v on the server", d.name, t.Name, id, c.Name, l[c.Name], r[c.Name])
				}
			}
		}
		for id := range remote {
			if _, ok := d.tables[t.Name][id]; !ok {
				w.t.Fatalf("%s misses %s/%s", d.name, t.Name, id)
			}
		}
	}
}

// TestConvergenceUnderRandomness: several devices of several reps edit
// offline and sync in random orders, some push responses are lost, admins
// write over REST in between. Afterwards every device equals the server's
// view of its scope, nothing sent was lost, and nothing was duplicated.
func TestConvergenceUnderRandomness(t *testing.T) {
	t.Parallel()
	seeds := 24
	if testing.Short() {
		seeds = 4
	}
	if n, err := strconv.Atoi(os.Getenv("ROUNDS_CONVERGE_SEEDS")); err == nil && n > 0 {
		seeds = n // more, locally: ROUNDS_CONVERGE_SEEDS=500
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
			defer srv.Close()
			w := &world{t: t, app: app, srv: srv, rng: rand.New(rand.NewPCG(uint64(seed), 7))}

			// a few more customers per rep
			customers, _ := app.FindCollectionByNameOrId(crm.Customers)
			reps := []string{testapp.UserRepA, testapp.UserRepB, testapp.UserRepX}
			for i := 0; i < 6; i++ {
				r := core.NewRecord(customers)
				r.Id = fmt.Sprintf("extracustomer%02d", i)
				r.Load(M{"name": fmt.Sprint("Extra ", i), "owner": reps[i%3], "timezone": "Europe/Berlin"})
				if err := app.Save(r); err != nil {
					t.Fatal(err)
				}
			}
			devices := []*device{
				newDevice("a1", testapp.RepA, testapp.UserRepA),
				newDevice("a2", testapp.RepA, testapp.UserRepA),
				newDevice("b1", testapp.RepB, testapp.UserRepB),
				newDevice("x1", testapp.RepX, testapp.UserRepX),
			}
			for _, d := range devices {
				w.sync(d, false)
			}
			for step := 0; step < 100; step++ {
				switch roll := w.rng.IntN(10); {
				case roll < 6:
					w.deviceOp(devices[w.rng.IntN(len(devices))])
				case roll < 8:
					w.sync(devices[w.rng.IntN(len(devices))], w.rng.IntN(6) == 0)
				default:
					w.adminOp(reps)
				}
			}
			// everyone syncs until quiet
			for round := 0; round < 3; round++ {
				for _, d := range devices {
					w.sync(d, false)
				}
			}
			for _, d := range devices {
				w.equalsServer(d)
			}
			// no duplicates: every visit a device created exists once at most
			var dupes []struct {
				Purpose string `db:"purpose"`
				N       int    `db:"n"`
			}
			if err := app.DB().NewQuery("SELECT purpose, COUNT(*) AS n FROM visits WHERE purpose LIKE 'visit-%' GROUP BY purpose HAVING n > 1").All(&dupes); err != nil || len(dupes) > 0 {
				t.Fatalf("duplicated visits: %v %v", dupes, err)
			}
		})
	}
}

// TestPullNeverSkipsACommittedChange pulls in a loop while writers commit
// changes concurrently; once the writers stop, one more pull must leave
// the puller with exactly the server's values.
func TestPullNeverSkipsACommittedChange(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	defer srv.Close()
	w := &world{t: t, app: app, srv: srv, rng: rand.New(rand.NewPCG(1, 2))}
	d := newDevice("puller", testapp.RepA, testapp.UserRepA)
	w.pull(d)

	stop := make(chan struct{})
	var wg gosync.WaitGroup
	for writer := 0; writer < 2; writer++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec, err := app.FindRecordById(crm.Contacts, testapp.ContactA)
				if err != nil {
					t.Error(err)
					return
				}
				rec.Set("title", fmt.Sprintf("writer %d edit %d", writer, i))
				if err := app.Save(rec); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		w.pull(d)
	}
	close(stop)
	wg.Wait()
	w.pull(d)
	w.equalsServer(d)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
