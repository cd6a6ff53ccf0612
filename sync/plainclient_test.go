package sync_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"rounds/crm"
	"rounds/internal/testapp"
	rsync "rounds/sync"
)

// plainClient is a second client, written from docs/sync-protocol.md and
// unlike WatermelonDB: plain HTTP, whole records or only the changed
// columns, never _status or _changed; it pulls, pushes what it did, and
// pulls again. It keeps the server's records as the last pull carried them.
type plainClient struct {
	w      *world
	actor  string
	rep    string
	cursor int64
	local  map[string]map[string]M // table -> id -> record as pulled
	held   map[string]bool         // customers a pull ever carried
	stats  map[string]int          // applied, merged, refused: to show each happened
}

func newPlainClient(w *world, actor, rep string) *plainClient {
	c := &plainClient{w: w, actor: actor, rep: rep, local: map[string]map[string]M{}, held: map[string]bool{}, stats: map[string]int{}}
	c.pull(true)
	return c
}

// pull is the protocol's pull: a first one with last_pulled_at=null, then
// from the timestamp it answered; created and updated replace the local
// record, deleted and tombstones remove it.
func (c *plainClient) pull(first bool) {
	t := c.w.t
	t.Helper()
	cursor := "null"
	if !first {
		cursor = strconv.FormatInt(c.cursor, 10)
	}
	status, body := c.w.do(c.actor, "GET", fmt.Sprintf("/api/sync/pull?last_pulled_at=%s&schema_version=%d", cursor, rsync.SchemaVersion), nil, "plain-"+c.actor)
	if status != 200 {
		t.Fatalf("plain pull: %d %s", status, body)
	}
	var p pullResult
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	for table, ch := range p.Changes {
		if c.local[table] == nil {
			c.local[table] = map[string]M{}
		}
		for _, r := range append(ch.Created, ch.Updated...) {
			if r[rsync.RemovedColumn] != nil {
				delete(c.local[table], r["id"].(string))
				continue
			}
			c.local[table][r["id"].(string)] = r
			if table == crm.Customers {
				c.held[r["id"].(string)] = true
			}
		}
		for _, id := range ch.Deleted {
			delete(c.local[table], id)
		}
	}
	c.cursor = p.Timestamp
}

func (c *plainClient) ids(table string, keep func(M) bool) []string {
	var out []string
	for _, id := range keysOf(c.local[table]) {
		if keep == nil || keep(c.local[table][id]) {
			out = append(out, id)
		}
	}
	return out
}

// sent is one record of a push, as the client sent it.
type sentRecord struct {
	table, id string
	raw       M
	deleted   bool
	bad       string // a mistake the client made on purpose: it must be refused
}

// step does one random thing offline and syncs it: pull, push, pull.
func (c *plainClient) step() {
	w, rng := c.w, c.w.rng
	var batch []sentRecord
	id := func() string { w.seq++; return fmt.Sprintf("plainclient%s%07d", c.actor[len(c.actor)-1:], w.seq) }
	ms := func(d time.Duration) float64 { return float64(time.Now().Add(d).UnixMilli()) }
	customers := c.ids(crm.Customers, nil)
	if len(customers) == 0 {
		return
	}
	// orders this batch already changes: a mistake on one of them would be
	// refused for that instead
	touched := map[string]bool{}
	// the client's view is its last pull; admins may have written since
	// (the server's view decides which mistakes are only mistakes)
	var serverDrafts, others []string
	if err := w.app.DB().NewQuery("SELECT id FROM orders WHERE status = 'draft'").Column(&serverDrafts); err != nil {
		w.t.Fatal(err)
	}
	drafts := func() []string {
		return c.ids(crm.Orders, func(r M) bool {
			id := r["id"].(string)
			return r["status"] == crm.StatusDraft && !touched[id] && slices.Contains(serverDrafts, id)
		})
	}
	// customers this rep never held (a customer handed away has a grace)
	var all []string
	if err := w.app.DB().NewQuery("SELECT id FROM customers WHERE owner != {:r} AND id NOT IN (SELECT record_id FROM " + rsync.ChangesTable +
		" WHERE tbl = 'customers' AND owner_from = {:r}) ORDER BY id").Bind(map[string]any{"r": c.rep}).Column(&all); err != nil {
		w.t.Fatal(err)
	}
	for _, id := range all {
		if !c.held[id] {
			others = append(others, id)
		}
	}
	for range 1 + rng.IntN(4) {
		switch rng.IntN(11) {
		case 0: // a visit, planned or done
			batch = append(batch, sentRecord{table: crm.Visits, id: id(), raw: M{"customer": w.pick(customers), "purpose": "plain visit", "planned_at": ms(48 * time.Hour)}})
		case 1:
			batch = append(batch, sentRecord{table: crm.Contacts, id: id(), raw: M{"customer": w.pick(customers), "name": "Plain person", "birthday": "02-29", "email": "plain@example.com"}})
		case 2:
			o := id()
			batch = append(batch, sentRecord{table: crm.Orders, id: o, raw: M{"customer": w.pick(customers), "currency": "EUR"}},
				sentRecord{table: crm.OrderLines, id: id(), raw: M{"order": o, "product": testapp.ProductCoffee, "quantity": float64(1 + rng.IntN(5))}})
		case 3, 4: // a whole record sent back with one or two columns edited
			table := []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps}[rng.IntN(4)]
			if ids := c.ids(table, nil); len(ids) > 0 {
				r := copyM(c.local[table][w.pick(ids)])
				edit := map[string]M{
					crm.Customers: {"notes": fmt.Sprintf("plain note %d", rng.IntN(1000)), "phone": fmt.Sprintf("+49 30 %d", rng.IntN(1e6))},
					crm.Contacts:  {"title": fmt.Sprintf("Plain title %d", rng.IntN(100))},
					crm.Visits:    {"outcome": fmt.Sprintf("plain outcome %d", rng.IntN(100))},
					crm.FollowUps: {"note": fmt.Sprintf("plain promise %d", rng.IntN(100))},
				}[table]
				for k, v := range edit {
					r[k] = v
				}
				delete(r, rsync.RemovedColumn)
				batch = append(batch, sentRecord{table: table, id: r["id"].(string), raw: r})
			}
		case 5: // only what changed
			if ids := c.ids(crm.Customers, nil); len(ids) > 0 {
				batch = append(batch, sentRecord{table: crm.Customers, id: w.pick(ids), raw: M{"address": fmt.Sprintf("%d Plain Street", rng.IntN(99)), "updated": ms(0)}})
			}
		case 6: // a draft order submitted
			if ids := drafts(); len(ids) > 0 {
				o := w.pick(ids)
				touched[o] = true
				batch = append(batch, sentRecord{table: crm.Orders, id: o, raw: M{"status": crm.StatusSubmitted}})
			}
		case 7:
			if ids := c.ids(crm.FollowUps, nil); len(ids) > 0 && rng.IntN(2) == 0 {
				batch = append(batch, sentRecord{table: crm.FollowUps, id: w.pick(ids), deleted: true})
			} else {
				batch = append(batch, sentRecord{table: crm.FollowUps, id: id(), raw: M{"customer": w.pick(customers), "note": "plain call", "due_at": ms(24 * time.Hour)}})
			}
		case 8, 9, 10: // a mistake a second client makes
			mistakes := []sentRecord{
				{table: crm.Orders, raw: M{"customer": w.pick(customers), "currency": "eur"}, bad: "orders.currency"},
				{table: crm.Visits, raw: M{"customer": w.pick(customers), "planned_at": float64(time.Now().Unix())}, bad: "looks like seconds"},
				{table: crm.Visits, raw: M{"purpose": "nowhere"}, bad: "visits.customer is required"},
				{table: crm.Contacts, raw: M{"customer": w.pick(customers), "name": "Odd", "birthday": "13-45"}, bad: "contacts.birthday"},
				{table: crm.Contacts, raw: M{"customer": w.pick(customers), "name": "Odd", "email": "nope"}, bad: "contacts.email"},
				{table: crm.Customers, raw: M{"name": "", "notes": "no name"}, bad: "customers.name is required"},
			}
			if len(others) > 0 {
				mistakes = append(mistakes, sentRecord{table: crm.Visits, raw: M{"customer": w.pick(others), "purpose": "not mine"}, bad: "not in your scope"})
			}
			if ds := drafts(); len(ds) > 0 {
				mistakes = append(mistakes, sentRecord{table: crm.Orders, id: w.pick(ds), raw: M{"status": crm.StatusFulfilled}, bad: "cannot set an order"},
					sentRecord{table: crm.OrderLines, raw: M{"order": w.pick(ds), "product": testapp.ProductCoffee, "quantity": 0.0}, bad: "order_lines.quantity"})
			}
			m := mistakes[rng.IntN(len(mistakes))]
			if m.table == crm.Orders {
				touched[m.id] = true
			}
			if o, ok := m.raw["order"].(string); ok {
				touched[o] = true
			}
			if m.id == "" {
				m.id = id()
			}
			batch = append(batch, m)
		}
	}
	c.push(batch)
}

// push sends a batch: new ids in created, known ones in updated, deletions;
// then checks that nothing was dropped without a word, and pulls.
func (c *plainClient) push(batch []sentRecord) {
	w := c.w
	t := w.t
	t.Helper()
	c.pull(false)
	// one version of each record per push: later edits of the same record
	// join the earlier ones (as a client's local store would hold them)
	var merged []sentRecord
	at := map[string]int{}
	for _, s := range batch {
		key := s.table + "/" + s.id
		if i, ok := at[key]; ok && !s.deleted && !merged[i].deleted && s.bad == "" && merged[i].bad == "" {
			for k, v := range s.raw {
				merged[i].raw[k] = v
			}
			continue
		} else if ok {
			continue // a deletion and an edit of one record: keep the first
		}
		at[key] = len(merged)
		if s.raw != nil {
			s.raw = copyM(s.raw)
		}
		merged = append(merged, s)
	}
	batch = merged
	changes := M{}
	for _, s := range batch {
		tc, _ := changes[s.table].(M)
		if tc == nil {
			tc = M{"created": []M{}, "updated": []M{}, "deleted": []string{}}
			changes[s.table] = tc
		}
		if s.deleted {
			tc["deleted"] = append(tc["deleted"].([]string), s.id)
			continue
		}
		r := copyM(s.raw)
		r["id"] = s.id
		kind := "created"
		if _, known := c.local[s.table][s.id]; known {
			kind = "updated"
		}
		tc[kind] = append(tc[kind].([]M), r)
	}
	status, body := w.do(c.actor, "POST", fmt.Sprintf("/api/sync/push?last_pulled_at=%d", c.cursor), changes, "plain-"+c.actor)
	if status != 200 {
		t.Fatalf("plain push: %d %s\n%v", status, body, changes)
	}
	var res pushResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range res.Rejected {
		reasons[r.Table+"/"+r.ID] = r.Reason
	}
	for _, s := range batch {
		key := s.table + "/" + s.id
		reason, refused := reasons[key]
		switch {
		case s.bad != "":
			if !refused || !strings.Contains(reason, s.bad) {
				t.Fatalf("plain client's mistake %s %v: refused %v with %q, want a reason naming %q", key, s.raw, refused, reason, s.bad)
			}
			c.stats["refused"]++
		case refused:
			// refused for a reason of the server's (a record handed away meanwhile)
			if reason == "" || !w.conflictLogged(s.table, s.id, "", nil) {
				t.Fatalf("plain client: %s refused with %q and not in sync_conflicts", key, reason)
			}
			c.stats["refused"]++
		case s.deleted:
			if r, err := w.app.FindRecordById(s.table, s.id); err == nil && r != nil && !w.conflictLogged(s.table, s.id, "*", nil) {
				t.Fatalf("plain client: deleted %s is still there and no conflict says why", key)
			}
			c.stats["deleted"]++
		default:
			c.checkStored(s, res)
		}
	}
	c.pull(false)
}

// checkStored: every column the client sent is what the server holds, or
// a note that keeps both texts, or the losing value of a conflict in
// sync_conflicts; the server's own columns are not the client's to send.
func (c *plainClient) checkStored(s sentRecord, res pushResult) {
	w := c.w
	t := w.t
	t.Helper()
	r, err := w.app.FindRecordById(s.table, s.id)
	if err != nil {
		t.Fatalf("plain client: %s/%s was neither stored nor refused (%+v)", s.table, s.id, res)
	}
	tbl, _ := rsync.TableByName(s.table)
	merged := false
	for col, sent := range s.raw {
		cl, ok := tbl.Column(col)
		if !ok || tbl.ServerOwned(col) || col == "created" || col == "updated" {
			continue
		}
		server := wireOf(cl, r)
		switch {
		case sameWire(server, sent):
		case rsync.NoteColumns[s.table+"."+col] && strings.Contains(fmt.Sprint(server), fmt.Sprint(sent)):
			merged = true
		case w.conflictLogged(s.table, s.id, col, sent):
			merged = true
		default:
			t.Fatalf("plain client: %s/%s.%s = %v was dropped: the server holds %v and sync_conflicts has no trace (%+v)", s.table, s.id, col, sent, server, res)
		}
	}
	if merged {
		c.stats["merged"]++
	} else {
		c.stats["applied"]++
	}
}

// TestSecondClientLosesNothing runs the plain client of two reps against a
// server that admins write to meanwhile (the convergence test's model),
// with random sequences from each seed: after every push, every record it
// sent is stored, merged as documented, or refused with a reason.
// ROUNDS_PLAIN_SEEDS=n runs more seeds.
func TestSecondClientLosesNothing(t *testing.T) {
	t.Parallel()
	seeds := 30
	if n, err := strconv.Atoi(os.Getenv("ROUNDS_PLAIN_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	total := map[string]int{}
	mu := make(chan struct{}, 1)
	t.Cleanup(func() {
		if !t.Failed() {
			t.Logf("over %d seeds: %v", seeds, total)
			for _, k := range []string{"applied", "merged", "refused", "deleted"} {
				if total[k] == 0 {
					t.Errorf("no record was %s: the test does not reach that case", k)
				}
			}
		}
	})
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
			defer srv.Close()
			w := &world{t: t, app: app, srv: srv, rng: rand.New(rand.NewPCG(uint64(seed), 22))}
			clients := []*plainClient{newPlainClient(w, testapp.RepA, testapp.UserRepA), newPlainClient(w, testapp.RepB, testapp.UserRepB)}
			reps := []string{testapp.UserRepA, testapp.UserRepB, testapp.UserRepX}
			for range 25 {
				if w.rng.IntN(4) == 0 {
					w.adminOp(reps)
					continue
				}
				clients[w.rng.IntN(len(clients))].step()
			}
			mu <- struct{}{}
			for _, c := range clients {
				for k, v := range c.stats {
					total[k] += v
				}
			}
			<-mu
		})
	}
}
