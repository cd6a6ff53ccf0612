package hooks_test

import (
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/care"
	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
	rsync "rounds/sync"
)

// authzSeeds is how many random organisations TestAuthorizationGenerative
// builds; ROUNDS_AUTHZ_SEEDS runs more (ROUNDS_AUTHZ_SEED=n runs only seed n).
func authzSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("ROUNDS_AUTHZ_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ROUNDS_AUTHZ_SEED: %v", err)
		}
		return []uint64{n}
	}
	count := 30
	if s := os.Getenv("ROUNDS_AUTHZ_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ROUNDS_AUTHZ_SEEDS: %v", err)
		}
		count = n
	}
	seeds := make([]uint64, count)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// TestAuthorizationGenerative builds a random organisation from each seed
// (reps with and without managers, managers with none, several or nested
// reports, deactivated and demoted users, reassigned customers, orders in
// every status) on top of the fixture company, then, for every actor
// (anonymous, each user, a superuser, a customer holding a link) and every
// collection, compares what the REST API (list, view, expand, filter,
// create, update, delete), the sync pull and push, and the care endpoints
// did with what package policy says. Besides the policy, it checks
// invariants that do not come from the policy at all: anonymous and
// deactivated callers read nothing, nobody but a superuser reads a record
// whose owner chain does not lead to them, and nobody but a customer
// changes a customer's consent.
//
// A failure names the seed; ROUNDS_AUTHZ_SEED=n go test -run
// TestAuthorizationGenerative ./hooks replays it.
func TestAuthorizationGenerative(t *testing.T) {
	t.Parallel()
	for _, seed := range authzSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			o := newOrg(t, seed)
			o.checkReads(t)
			o.checkSyncPull(t)
			o.checkSyncPush(t)
			o.checkGracePush(t)
			o.checkCare(t)
			o.checkForecast(t)
			o.checkWrites(t) // these two change the data
			o.checkHandOver(t)
			o.checkBulkHandOver(t)
		})
	}
}

// actor is a caller of the generated organisation.
type actor struct {
	name   string
	token  string
	policy policy.Actor
}

type org struct {
	t      *testing.T
	app    *tests.TestApp
	client *testapp.Client
	rng    *rand.Rand
	seed   uint64
	actors []actor
	graph  policy.Graph
	// former: who owned which customer until a territory change, and what
	// the new owners added under them since
	// territory change within the grace (true) or long ago (false)
	former formerOwners
	// a contact whose preferences link the customer actor holds
	linkContact, link string
}

// passwordOf is a stored password hash, reused so that generated users
// do not each cost a bcrypt round.
var authzPasswordHash string

func newOrg(t *testing.T, seed uint64) *org {
	t.Helper()
	app := testapp.New(t)
	o := &org{t: t, app: app, rng: rand.New(rand.NewPCG(seed, 0x5eed)), seed: seed, former: formerOwners{recent: map[string]bool{}, later: map[string]string{}}}
	o.client = testapp.NewClient(t, app)
	app.Cron().Stop() // the reminders job would write notifications while the test compares
	o.build(t)
	o.loadGraph(t)
	return o
}

func (o *org) id(prefix string) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix)
	for len(b) < 15 {
		b = append(b, letters[o.rng.IntN(len(letters))])
	}
	return string(b)
}

func (o *org) pick(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[o.rng.IntN(len(ids))]
}

func (o *org) save(t *testing.T, collection string, id string, data map[string]any) *core.Record {
	t.Helper()
	c, err := o.app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(c)
	r.Id = id
	r.Load(data)
	if collection == crm.Users {
		hash := authzPasswordHash
		if hash == "" {
			r.SetPassword("generated-password")
		} else {
			r.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: hash})
		}
		r.SetEmail(id + "@gen.rounds.test")
		r.SetVerified(true)
	}
	if err := o.app.Save(r); err != nil {
		t.Fatalf("seed %d: save %s %s: %v", o.seed, collection, id, err)
	}
	if collection == crm.Users && authzPasswordHash == "" {
		if v, ok := r.GetRaw(core.FieldNamePassword).(*core.PasswordFieldValue); ok {
			authzPasswordHash = v.Hash
		}
	}
	return r
}

// build adds a random organisation to the fixture company and makes an
// actor of every user.
func (o *org) build(t *testing.T) {
	t.Helper()
	rng := o.rng
	var managers, users []string
	nManagers := rng.IntN(4) // 0..3: some organisations have no manager at all
	for range nManagers {
		id := o.id("mgr")
		manager := ""
		if len(managers) > 0 && rng.IntN(3) == 0 {
			manager = o.pick(managers) // nested: a manager reporting to a manager
		}
		o.save(t, crm.Users, id, map[string]any{"name": "Manager " + id, "role": "manager", "manager": manager, "active": true})
		managers = append(managers, id)
	}
	nReps := 1 + rng.IntN(5)
	var reps []string
	for range nReps {
		id := o.id("rep")
		manager := ""
		if len(managers) > 0 && rng.IntN(4) != 0 {
			manager = o.pick(managers)
		}
		o.save(t, crm.Users, id, map[string]any{"name": "Rep " + id, "role": "rep", "manager": manager, "active": true})
		reps = append(reps, id)
	}
	users = append(append(users, managers...), reps...)
	owners := append(slices.Clone(reps), testapp.UserRepA, testapp.UserRepB, testapp.UserRepX)

	products := []string{testapp.ProductCoffee, testapp.ProductCups}
	var customers []string
	for _, owner := range append(slices.Clone(owners), managers...) {
		n := rng.IntN(3)
		if slices.Contains(managers, owner) {
			n = rng.IntN(2) // a manager may own a customer too
		}
		for range n {
			cid := o.id("cus")
			o.save(t, crm.Customers, cid, map[string]any{"name": "Customer " + cid, "owner": owner, "tier": "B"})
			customers = append(customers, cid)
			var contacts, visits []string
			for range rng.IntN(3) {
				id := o.id("con")
				o.save(t, crm.Contacts, id, map[string]any{"customer": cid, "name": "Contact " + id, "care_opt_in": rng.IntN(2) == 0})
				contacts = append(contacts, id)
			}
			for range rng.IntN(3) {
				id := o.id("vis")
				o.save(t, crm.Visits, id, map[string]any{"customer": cid, "contact": o.pick(contacts), "purpose": "restock"})
				visits = append(visits, id)
			}
			for range rng.IntN(2) {
				o.save(t, crm.FollowUps, o.id("fol"), map[string]any{"customer": cid, "visit": o.pick(visits), "due_at": testapp.Now.Add(24 * 3600e9), "note": "call back", "status": "open"})
			}
			for range rng.IntN(3) { // deals, some moved on (a second line of history)
				opp := o.id("opp")
				o.save(t, crm.Opportunities, opp, map[string]any{"customer": cid, "title": "Deal " + opp, "amount": 100 * (1 + rng.IntN(50)),
					"currency": "EUR", "stage": crm.DefaultStages[rng.IntN(4)].ID})
				if rng.IntN(2) == 0 {
					r, _ := o.app.FindRecordById(crm.Opportunities, opp)
					r.Set("stage", crm.DefaultStages[4+rng.IntN(2)].ID) // won or lost
					r.Set("lost_reason", "price")
					if err := o.app.Save(r); err != nil {
						t.Fatal(err)
					}
				}
			}
			for range rng.IntN(3) {
				oid := o.id("ord")
				o.save(t, crm.Orders, oid, map[string]any{"customer": cid, "status": "draft", "currency": "EUR"})
				for range rng.IntN(3) {
					o.save(t, crm.OrderLines, o.id("lin"), map[string]any{"order": oid, "product": o.pick(products), "quantity": 1 + rng.IntN(5)})
				}
				if rng.IntN(3) == 0 { // closing a deal of the customer
					opp := o.id("opp")
					o.save(t, crm.Opportunities, opp, map[string]any{"customer": cid, "title": "Deal " + opp, "amount": 1000, "currency": "EUR", "stage": crm.DefaultStages[3].ID})
					r, _ := o.app.FindRecordById(crm.Orders, oid)
					r.Set("opportunity", opp)
					if err := o.app.Save(r); err != nil {
						t.Fatal(err)
					}
				}
				if rng.IntN(2) == 0 { // submitted, perhaps further
					for _, s := range []string{"submitted", "confirmed", "fulfilled"}[:1+rng.IntN(3)] {
						r, err := o.app.FindRecordById(crm.Orders, oid)
						if err != nil {
							t.Fatal(err)
						}
						r.Set("status", s)
						if err := o.app.Save(r); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	}
	for _, rep := range owners { // targets: none, or a month or two
		for m := range rng.IntN(3) {
			start := time.Date(2026, time.Month(1+m), 1, 0, 0, 0, 0, time.UTC)
			o.save(t, crm.Quotas, o.id("quo"), map[string]any{"rep": rep, "period_start": start, "period_end": start.AddDate(0, 1, -1),
				"amount": 1000 * (1 + rng.IntN(90)), "currency": "EUR"})
		}
	}
	for _, u := range users {
		if rng.IntN(2) == 0 {
			o.save(t, crm.Devices, o.id("dev"), map[string]any{"user": u, "token": "tok-" + o.id("t"), "platform": "android"})
		}
		if rng.IntN(2) == 0 { // a phone that syncs, stuck or not (stuck_devices)
			device := o.id("phone")
			stuck := map[string]any{"user": u, "device_id": device}
			if rng.IntN(2) == 0 {
				stuck["refused"], stuck["stuck_since"] = 1+rng.IntN(9), testapp.Now.Add(-time.Hour)
				o.save(t, crm.SyncConflicts, o.id("cfl"), map[string]any{"collection": crm.Visits, "record_id": "x", "resolution": "rejected",
					"rule": "refused", "user": u, "device": device, "count": 1, "last_seen_at": testapp.Now})
			}
			o.save(t, crm.SyncDevices, o.id("sdv"), stuck)
		}
	}

	// territory changes: some customers move to another user
	for _, cid := range customers {
		if rng.IntN(4) == 0 {
			r, err := o.app.FindRecordById(crm.Customers, cid)
			if err != nil {
				t.Fatal(err)
			}
			from := r.GetString("owner")
			r.Set("owner", o.pick(append(slices.Clone(owners), managers...)))
			if err := o.app.Save(r); err != nil {
				t.Fatal(err)
			}
			if to := r.GetString("owner"); to != from {
				// a third of the changes happened long ago: past the grace
				recent := rng.IntN(3) > 0
				if !recent {
					if _, err := o.app.DB().NewQuery("UPDATE " + rsync.ChangesTable + " SET at = {:at} WHERE seq = (SELECT MAX(seq) FROM " +
						rsync.ChangesTable + " WHERE record_id = {:c} AND op = 'o')").Bind(dbx.Params{"at": testapp.Now.Add(-8 * 24 * time.Hour).UnixMilli(), "c": cid}).Execute(); err != nil {
						t.Fatal(err)
					}
				}
				o.former.recent[cid+"/"+from] = recent
				if rng.IntN(2) == 0 { // the new owner's work since: never the former owner's
					visit, order := o.id("vis"), o.id("ord")
					o.save(t, crm.Visits, visit, map[string]any{"customer": cid, "purpose": "first visit"})
					o.save(t, crm.Orders, order, map[string]any{"customer": cid, "status": "draft", "currency": "EUR"})
					o.former.later[crm.Visits+"/"+visit], o.former.later[crm.Orders+"/"+order] = r.GetString("owner"), r.GetString("owner")
					if rng.IntN(2) == 0 {
						line := o.id("lin")
						o.save(t, crm.OrderLines, line, map[string]any{"order": order, "product": testapp.ProductCoffee, "quantity": 1})
						o.former.later[crm.OrderLines+"/"+line] = r.GetString("owner")
					}
				}
			}
		}
	}

	// actors: every user, with tokens issued while they were active
	all := append(slices.Clone(users), testapp.UserRepA, testapp.UserRepB, testapp.UserRepX, testapp.UserManagerA, testapp.UserManagerX)
	tokens := map[string]string{}
	for _, u := range all {
		r, err := o.app.FindRecordById(crm.Users, u)
		if err != nil {
			t.Fatal(err)
		}
		if tokens[u], err = r.NewAuthToken(); err != nil {
			t.Fatal(err)
		}
	}

	// demotions: a manager's reports are moved first (the server refuses
	// to demote a manager whom reps still report to), then the role goes
	demoted := map[string]bool{}
	for _, m := range managers {
		if rng.IntN(3) != 0 {
			continue
		}
		others := slices.DeleteFunc(slices.Clone(managers), func(x string) bool { return x == m || demoted[x] })
		reports, err := o.app.FindAllRecords(crm.Users)
		if err != nil {
			t.Fatal(err)
		}
		hasReports := slices.ContainsFunc(reports, func(r *core.Record) bool { return r.GetString("manager") == m })
		if first, err := o.app.FindRecordById(crm.Users, m); err == nil && hasReports {
			first.Set("role", "rep")
			if err := o.app.Save(first); err == nil {
				t.Fatalf("seed %d: manager %s was demoted while users still report to them", o.seed, m)
			}
		}
		for _, r := range reports {
			if r.GetString("manager") == m {
				next := ""
				if len(others) > 0 && rng.IntN(2) == 0 {
					next = o.pick(others)
				}
				if next == r.Id {
					next = "" // a manager who reported to m is not their own manager
				}
				r.Set("manager", next)
				if err := o.app.Save(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		r, err := o.app.FindRecordById(crm.Users, m)
		if err != nil {
			t.Fatal(err)
		}
		r.Set("role", "rep")
		r.Set("manager", "")
		if err := o.app.Save(r); err != nil {
			t.Fatalf("seed %d: demote %s: %v", o.seed, m, err)
		}
		demoted[m] = true
	}
	// a database from before demotions were refused: a manager lost the
	// role while users still reported to them (written past the hooks)
	if rng.IntN(3) == 0 {
		for _, m := range managers {
			if demoted[m] {
				continue
			}
			var reports int
			_ = o.app.DB().NewQuery("SELECT COUNT(*) FROM users WHERE manager = {:m}").Bind(map[string]any{"m": m}).Row(&reports)
			if reports > 0 {
				if _, err := o.app.DB().NewQuery("UPDATE users SET role = 'rep' WHERE id = {:m}").Bind(map[string]any{"m": m}).Execute(); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	// deactivations
	for _, u := range all {
		if rng.IntN(6) == 0 {
			r, err := o.app.FindRecordById(crm.Users, u)
			if err != nil {
				t.Fatal(err)
			}
			r.Set("active", false)
			if err := o.app.Save(r); err != nil {
				t.Fatal(err)
			}
		}
	}

	o.actors = []actor{{name: "anonymous", policy: policy.Actor{Role: policy.Anonymous}}}
	for _, u := range all {
		r, err := o.app.FindRecordById(crm.Users, u)
		if err != nil {
			t.Fatal(err)
		}
		o.actors = append(o.actors, actor{
			name:   fmt.Sprintf("%s %s (active=%v)", r.GetString("role"), u, r.GetBool("active")),
			token:  tokens[u],
			policy: policy.Actor{ID: u, Role: policy.Role(r.GetString("role")), Active: r.GetBool("active")},
		})
	}
	o.actors = append(o.actors, actor{name: "superuser", token: testapp.Token(t, testapp.Admin), policy: policy.Actor{Role: policy.Superuser}})

	// a customer holding the preferences link of a random contact
	contacts, err := o.app.FindAllRecords(crm.Contacts)
	if err != nil {
		t.Fatal(err)
	}
	o.linkContact = contacts[o.rng.IntN(len(contacts))].Id
	o.link = issue(t, o.linkContact, care.ScopeManage, testapp.Now, care.PreferencesTTL)
	// (the link is also sent as the Authorization of their REST, sync and
	// realtime calls: it must get them nothing there)
	o.actors = append(o.actors, actor{name: "customer " + o.linkContact, token: o.link, policy: policy.Actor{Role: policy.Customer}})
}

// loadGraph reads every record of every collection of the policy, as a
// superuser sees them: the ground truth the oracle reads.
func (o *org) loadGraph(t *testing.T) {
	t.Helper()
	g := policy.Graph{}
	for _, s := range policy.Specs {
		records, err := o.app.FindAllRecords(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			fields := map[string]string{}
			for k, v := range r.FieldsData() {
				if k == "password" || k == "tokenKey" {
					continue
				}
				fields[k] = fmt.Sprint(v)
			}
			fields["id"] = r.Id
			g[s.Name+"/"+r.Id] = fields
		}
	}
	o.graph = g
}

func (o *org) ids(collection string) []string {
	var out []string
	for key := range o.graph {
		if c, id, _ := strings.Cut(key, "/"); c == collection {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (o *org) do(t tb, a actor, method, path string, body any) testapp.Response {
	t.Helper()
	headers := map[string]string{}
	if a.token != "" {
		headers["Authorization"] = a.token
	}
	res := o.client.For(o.t).DoWithHeaders(testapp.Anon, method, path, body, headers)
	if res.Status >= 500 {
		t.Fatalf("seed %d: %s %s %s: server error %d: %s", o.seed, a.name, method, path, res.Status, res.Body)
	}
	return res
}

// reads reports what the policy says a may read, and checks it against
// the invariants that hold whatever the policy says.
func (o *org) reads(t tb, a actor, collection, id string) bool {
	t.Helper()
	want := policy.For(collection).Reads(a.policy, o.graph, id)
	if want && a.policy.Role != policy.Superuser {
		if !a.policy.Active || a.policy.ID == "" {
			t.Fatalf("seed %d: the policy lets %s (signed out or deactivated) read %s/%s", o.seed, a.name, collection, id)
		}
		if !o.chainReaches(collection, id, a.policy.ID) && collection != crm.Products && collection != crm.Stages && collection != crm.CompanySettings { // the catalogue and the settings are everyone's
			t.Fatalf("seed %d: the policy lets %s read %s/%s, whose owner chain does not lead to them", o.seed, a.name, collection, id)
		}
	}
	return want
}

// chainReaches reports whether user is the record's owner or above the
// owner in the reporting line (written without the policy).
func (o *org) chainReaches(collection, id, user string) bool {
	var owner string
	switch collection {
	case crm.Users:
		owner = id
	case crm.Customers:
		owner = o.graph.Resolve(collection, id, "owner")
	case crm.Devices:
		owner = o.graph.Resolve(collection, id, "user")
	case crm.OrderLines:
		owner = o.graph.Resolve(collection, id, "order.customer.owner")
	case crm.OpportunityHistory:
		owner = o.graph.Resolve(collection, id, "opportunity.customer.owner")
	case crm.RepActivity, crm.StuckDevices, crm.Quotas:
		owner = o.graph.Resolve(collection, id, "rep")
	default:
		owner = o.graph.Resolve(collection, id, "customer.owner")
	}
	for range 10 {
		if owner == "" {
			return false
		}
		if owner == user {
			return true
		}
		owner = o.graph.Resolve(crm.Users, owner, "manager")
	}
	return false
}

type page struct {
	Items []map[string]any `json:"items"`
}

// listIDs lists a collection as a, returning the ids of the items and the
// (collection, id) pairs of everything expanded.
func (o *org) listIDs(t tb, a actor, collection, query string) (ids []string, expanded [][2]string) {
	t.Helper()
	for n := 1; ; n++ { // every page (rep_activity has a row per rep and week)
		res := o.do(t, a, http.MethodGet, fmt.Sprintf("/api/collections/%s/records?perPage=500&page=%d&%s", collection, n, query), nil)
		if res.Status != 200 {
			return nil, nil
		}
		var p page
		if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
			t.Fatalf("seed %d: %s lists %s: %v", o.seed, a.name, collection, err)
		}
		for _, item := range p.Items {
			ids = append(ids, fmt.Sprint(item["id"]))
			collectExpanded(item, &expanded)
		}
		if len(p.Items) < 500 {
			break
		}
	}
	sort.Strings(ids)
	return ids, expanded
}

func collectExpanded(item map[string]any, out *[][2]string) {
	exp, _ := item["expand"].(map[string]any)
	for _, v := range exp {
		var list []any
		switch x := v.(type) {
		case map[string]any:
			list = []any{x}
		case []any:
			list = x
		}
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			*out = append(*out, [2]string{fmt.Sprint(m["collectionName"]), fmt.Sprint(m["id"])})
			collectExpanded(m, out)
		}
	}
}

// expands names, per collection, relation paths worth expanding.
var expands = map[string]string{
	crm.Customers:  "owner,owner.manager,contacts_via_customer,orders_via_customer",
	crm.Contacts:   "customer,customer.owner,contact_devices_via_contact,care_invites_via_contact",
	crm.Visits:     "customer,rep,contact",
	crm.FollowUps:  "customer,assignee,visit",
	crm.Orders:     "customer,rep,order_lines_via_order",
	crm.OrderLines: "order,order.customer,product",
	crm.Users:      "manager,devices_via_user,customers_via_owner,users_via_manager",
	crm.Devices:    "user",
	crm.Quotas:     "rep,rep.manager",
}

// filters on fields the caller may not see: each must select nothing the
// caller cannot read, and must not tell records apart by hidden data.
var hiddenFilters = map[string][]string{
	crm.Users:     {"devices_via_user.id != ''", "devices_via_user.token != ''", "customers_via_owner.id != ''", "sync_devices_via_user.id != ''", "manager.email != ''"},
	crm.Customers: {"owner.manager.id != ''", "owner.devices_via_user.id != ''", "contacts_via_customer.care_opt_in = true"},
	crm.Contacts:  {"contact_devices_via_contact.id != ''", "notifications_via_contact.id != ''", "care_invites_via_contact.id != ''"},
}

// checkReads runs every actor's reads at once: PocketBase delays a
// filtered list that found nothing (against timing attacks), so the test
// waits more than it works.
func (o *org) checkReads(t *testing.T) {
	views := map[string][]string{}
	for _, s := range policy.Specs {
		views[s.Name] = o.sample(o.ids(s.Name), 6)
	}
	var wg gosync.WaitGroup
	c := &collector{}
	for _, a := range o.actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.readsOf(c, a, views)
		}()
	}
	wg.Wait()
	if len(c.errs) > 0 {
		t.Fatal(strings.Join(c.errs, "\n"))
	}
}

// tb is the part of testing.TB the concurrent checks use.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// collector is a tb for a goroutine of checkReads: Fatalf records the
// failure and ends that goroutine.
type collector struct {
	mu   gosync.Mutex
	errs []string
}

func (c *collector) Helper() {}

func (c *collector) Fatalf(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
	runtime.Goexit()
}

func (o *org) readsOf(t tb, a actor, views map[string][]string) {
	for _, s := range policy.Specs {
		var want []string
		for _, id := range o.ids(s.Name) {
			if o.reads(t, a, s.Name, id) {
				want = append(want, id)
			}
		}
		got, expanded := o.listIDs(t, a, s.Name, "expand="+url.QueryEscape(expands[s.Name]))
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: %s lists %s: got %v, want %v", o.seed, a.name, s.Name, got, want)
		}
		for _, e := range expanded {
			if !o.reads(t, a, e[0], e[1]) {
				t.Fatalf("seed %d: %s lists %s with expand and sees %s/%s", o.seed, a.name, s.Name, e[0], e[1])
			}
		}
		for _, f := range hiddenFilters[s.Name] {
			ids, _ := o.listIDs(t, a, s.Name, "filter="+url.QueryEscape(f))
			for _, id := range ids {
				if !slices.Contains(want, id) {
					t.Fatalf("seed %d: %s filters %s by %q and gets %s, which they cannot read", o.seed, a.name, s.Name, f, id)
				}
			}
			if a.policy.Role != policy.Superuser && len(ids) > 0 && o.dependsOnHidden(t, a, s.Name, f, ids) {
				t.Fatalf("seed %d: %s filters %s by %q and learns hidden data: %v", o.seed, a.name, s.Name, f, ids)
			}
		}
		// sorting by a hidden field returns the same records
		if s.Name == crm.Users {
			got, _ := o.listIDs(t, a, s.Name, "sort=-email,id")
			if sort.Strings(got); !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s lists users sorted by email: got %v, want %v", o.seed, a.name, got, want)
			}
		}
		// views: every record, in and out of reach
		for _, id := range views[s.Name] {
			res := o.do(t, a, http.MethodGet, "/api/collections/"+s.Name+"/records/"+id, nil)
			if got, want := res.Status == 200, o.reads(t, a, s.Name, id); got != want {
				t.Fatalf("seed %d: %s views %s/%s: status %d, policy says read=%v", o.seed, a.name, s.Name, id, res.Status, want)
			}
		}
	}
}

// dependsOnHidden reports whether a filter through a collection the caller
// cannot read (a back-relation to admins-only records, or to other users'
// devices) selected records it could only have selected by seeing them.
func (o *org) dependsOnHidden(t tb, a actor, collection, filter string, ids []string) bool {
	for _, via := range []string{"sync_devices_via", "contact_devices_via", "notifications_via", "care_invites_via"} {
		if strings.Contains(filter, via) {
			return true // no caller but a superuser reads any of these
		}
	}
	if strings.Contains(filter, "devices_via") {
		for _, id := range ids {
			owner := id
			if collection == crm.Customers {
				owner = o.graph.Resolve(collection, id, "owner")
			}
			if owner != a.policy.ID {
				return true // a user reads only their own devices
			}
		}
	}
	return false
}

func (o *org) sample(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	out := slices.Clone(ids)
	o.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:n]
}

func (o *org) checkSyncPull(t *testing.T) {
	// a first pull, and an incremental one from the change log's start
	// (the rep's feed: every change since, read by the feed's index)
	for _, cursor := range []string{"null", strconv.FormatInt(rsync.EncodeCursor(1, 1), 10)} {
		o.checkSyncPullFrom(t, cursor)
	}
}

func (o *org) checkSyncPullFrom(t *testing.T, cursor string) {
	for _, a := range o.actors {
		if a.policy.Role == policy.Superuser {
			continue // superusers have no territory to pull
		}
		res := o.do(t, a, http.MethodGet, "/api/sync/pull?schema_version=4&last_pulled_at="+cursor, nil)
		if !a.policy.SignedIn() {
			if res.Status != 401 {
				t.Fatalf("seed %d: %s pulls: status %d, want 401", o.seed, a.name, res.Status)
			}
			continue
		}
		if !policy.Syncs(a.policy.Role) {
			if res.Status != 403 {
				t.Fatalf("seed %d: %s pulls: status %d, want 403 (sync is for reps)", o.seed, a.name, res.Status)
			}
			continue
		}
		if res.Status != 200 {
			t.Fatalf("seed %d: %s pulls: %d %s", o.seed, a.name, res.Status, res.Body)
		}
		var pull struct {
			Changes map[string]struct {
				Updated []map[string]any `json:"updated"`
				Created []map[string]any `json:"created"`
			} `json:"changes"`
		}
		res.JSON(t, &pull)
		for _, table := range rsync.Tables {
			var got, want []string
			for _, r := range append(pull.Changes[table.Name].Updated, pull.Changes[table.Name].Created...) {
				if r[rsync.RemovedColumn] != nil { // a tombstone names a record the rep may have known, and nothing of it
					if len(r) != 2 {
						t.Fatalf("seed %d: %s pulls from %s a tombstone of %s/%v carrying %v", o.seed, a.name, cursor, table.Name, r["id"], r)
					}
					continue
				}
				got = append(got, fmt.Sprint(r["id"]))
			}
			spec := policy.For(table.Name)
			if cursor != "null" && spec.Access == policy.Catalogue {
				continue // everyone's, and logged only from when capture began (the migrations' stages are not)
			}
			for _, id := range o.ids(table.Name) {
				in := spec.InScope(a.policy, o.graph, id)
				if spec.Access == policy.Catalogue {
					in = o.reads(t, a, table.Name, id)
				} else if in && !o.reads(t, a, table.Name, id) {
					t.Fatalf("seed %d: policy: %s/%s is in %s's scope but not readable", o.seed, table.Name, id, a.name)
				}
				if in {
					want = append(want, id)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s pulls %s from %s: got %v, want %v", o.seed, a.name, table.Name, cursor, got, want)
			}
		}
	}
}

// checkSyncPush pushes, as every actor, a new visit under a random
// customer, an edit of a random contact (title and consent) and a
// follow-up handed to the pusher; the outcome must be what the policy says.
func (o *org) checkSyncPush(t *testing.T) {
	customers, contacts, followUps := o.ids(crm.Customers), o.ids(crm.Contacts), o.ids(crm.FollowUps)
	for i, a := range o.actors {
		if a.policy.Role == policy.Superuser {
			continue
		}
		customer := o.pickFor(a, policy.For(crm.Customers), customers, policy.Update)
		contact := o.pickFor(a, policy.For(crm.Contacts), contacts, policy.Update)
		followUp := o.pickFor(a, policy.For(crm.FollowUps), followUps, policy.Update)
		visitID := fmt.Sprintf("pushvisit%06d", i)
		customerID := fmt.Sprintf("pushcustomer%03d", i)
		before := o.record(t, crm.Contacts, contact)
		fuBefore := o.record(t, crm.FollowUps, followUp)
		title := fmt.Sprintf("title by %d", i)
		body := map[string]any{
			"customers": map[string]any{"created": []any{map[string]any{"id": customerID, "name": "Pushed shop"}}, "updated": []any{}, "deleted": []any{}},
			"visits":    map[string]any{"created": []any{map[string]any{"id": visitID, "customer": customer, "purpose": "pushed"}}, "updated": []any{}, "deleted": []any{}},
			"contacts":  map[string]any{"created": []any{}, "updated": []any{map[string]any{"id": contact, "customer": before.GetString("customer"), "name": before.GetString("name"), "title": title, "care_opt_in": !before.GetBool("care_opt_in"), "_status": "updated", "_changed": "title,care_opt_in"}}, "deleted": []any{}},
		}
		if followUp != "" {
			body["follow_ups"] = map[string]any{"created": []any{}, "updated": []any{map[string]any{"id": followUp, "customer": fuBefore.GetString("customer"), "assignee": a.policy.ID, "_status": "updated", "_changed": "assignee"}}, "deleted": []any{}}
		}
		res := o.do(t, a, http.MethodPost, "/api/sync/push?last_pulled_at="+strconv.FormatInt(rsync.EncodeCursor(1<<40, 1<<40), 10), body)
		if !a.policy.SignedIn() {
			if res.Status != 401 {
				t.Fatalf("seed %d: %s pushes: status %d, want 401", o.seed, a.name, res.Status)
			}
		} else if !policy.Syncs(a.policy.Role) {
			if res.Status != 403 {
				t.Fatalf("seed %d: %s pushes: status %d, want 403 (sync is for reps)", o.seed, a.name, res.Status)
			}
		} else if res.Status != 200 {
			t.Fatalf("seed %d: %s pushes: %d %s", o.seed, a.name, res.Status, res.Body)
		}

		// the customer and the visit, as they would be stored
		g := o.graph
		g["customers/"+customerID] = map[string]string{"owner": a.policy.ID}
		wantCustomer := policy.For(crm.Customers).SyncWritesRecord(a.policy, g, o.former, customerID, policy.Create)
		delete(g, "customers/"+customerID)
		if _, err := o.app.FindRecordById(crm.Customers, customerID); (err == nil) != wantCustomer || (wantCustomer && a.policy.Role != policy.Rep) {
			t.Fatalf("seed %d: %s pushes a new customer: stored=%v, policy says %v (%s)", o.seed, a.name, err == nil, wantCustomer, res.Body)
		}
		g["visits/"+visitID] = map[string]string{"customer": customer, "rep": a.policy.ID}
		wantVisit := policy.For(crm.Visits).SyncWritesRecord(a.policy, g, o.former, visitID, policy.Create)
		delete(g, "visits/"+visitID)
		_, err := o.app.FindRecordById(crm.Visits, visitID)
		if err == nil {
			o.former.later[crm.Visits+"/"+visitID] = a.policy.ID
		}
		if (err == nil) != wantVisit {
			t.Fatalf("seed %d: %s pushes a visit under %s: stored=%v, policy says %v (%s)", o.seed, a.name, customer, err == nil, wantVisit, res.Body)
		}

		after := o.record(t, crm.Contacts, contact)
		wantTitle := policy.For(crm.Contacts).SyncWritesRecord(a.policy, g, o.former, contact, policy.Update)
		if (after.GetString("title") == title) != wantTitle {
			t.Fatalf("seed %d: %s pushes a contact title: changed=%v, policy says %v (%s)", o.seed, a.name, after.GetString("title") == title, wantTitle, res.Body)
		}
		if after.GetBool("care_opt_in") != before.GetBool("care_opt_in") {
			t.Fatalf("seed %d: %s changed contact %s's consent through sync", o.seed, a.name, contact)
		}
		if followUp != "" {
			if fu := o.record(t, crm.FollowUps, followUp); fu.GetString("assignee") != fuBefore.GetString("assignee") {
				t.Fatalf("seed %d: %s took over follow-up %s through sync (assignee %s -> %s)", o.seed, a.name, followUp, fuBefore.GetString("assignee"), fu.GetString("assignee"))
			}
		}
		o.loadGraph(t)
	}
}

// checkGracePush: a rep who lost a customer recently pushes an edit of
// each visit and order under it, and a line into each draft order, whether
// the record was there before the change or the new owner added it since;
// what is stored is what policy.SyncWritesRecord says, and every refusal is
// listed in rejected with a reason.
func (o *org) checkGracePush(t *testing.T) {
	o.loadGraph(t)
	for i, a := range o.actors {
		if a.policy.Role != policy.Rep {
			continue
		}
		var visits, orders []string
		for _, id := range o.ids(crm.Visits) {
			if o.former.recent[o.graph.Resolve(crm.Visits, id, "customer")+"/"+a.policy.ID] {
				visits = append(visits, id)
			}
		}
		for _, id := range o.ids(crm.Orders) {
			if o.former.recent[o.graph.Resolve(crm.Orders, id, "customer")+"/"+a.policy.ID] {
				orders = append(orders, id)
			}
		}
		if len(visits)+len(orders) == 0 {
			continue
		}
		purpose := fmt.Sprintf("grace edit %d", i)
		var updates, lines []any
		for _, id := range visits {
			updates = append(updates, map[string]any{"id": id, "customer": o.graph.Resolve(crm.Visits, id, "customer"), "purpose": purpose, "_status": "updated", "_changed": "purpose"})
		}
		var orderUpdates []any
		lineOf := map[string]string{}
		for j, id := range orders {
			orderUpdates = append(orderUpdates, map[string]any{"id": id, "customer": o.graph.Resolve(crm.Orders, id, "customer"), "notes": purpose, "status": o.graph.Resolve(crm.Orders, id, "status"), "_status": "updated", "_changed": "notes"})
			line := fmt.Sprintf("graceline%03d%03d", i, j)
			lineOf[id] = line
			lines = append(lines, map[string]any{"id": line, "order": id, "product": testapp.ProductCoffee, "quantity": 1, "_status": "created", "_changed": ""})
		}
		body := map[string]any{
			"visits":      map[string]any{"created": []any{}, "updated": updates, "deleted": []any{}},
			"orders":      map[string]any{"created": []any{}, "updated": orderUpdates, "deleted": []any{}},
			"order_lines": map[string]any{"created": lines, "updated": []any{}, "deleted": []any{}},
		}
		res := o.do(t, a, http.MethodPost, "/api/sync/push?last_pulled_at="+strconv.FormatInt(rsync.EncodeCursor(1<<40, 1<<40), 10), body)
		if !a.policy.SignedIn() {
			if res.Status != 401 {
				t.Fatalf("seed %d: %s pushes: status %d, want 401", o.seed, a.name, res.Status)
			}
			continue
		}
		if res.Status != 200 {
			t.Fatalf("seed %d: %s pushes in the grace: %d %s", o.seed, a.name, res.Status, res.Body)
		}
		var out struct {
			Rejected []struct{ Table, ID, Reason string }
		}
		res.JSON(t, &out)
		refused := map[string]bool{}
		for _, r := range out.Rejected {
			if r.Reason == "" {
				t.Fatalf("seed %d: %s's push: %s/%s refused without a reason", o.seed, a.name, r.Table, r.ID)
			}
			refused[r.Table+"/"+r.ID] = true
		}
		check := func(collection, id string, stored bool, action policy.Action) {
			want := policy.For(collection).SyncWritesRecord(a.policy, o.graph, o.former, id, action)
			if stored != want || refused[collection+"/"+id] == want {
				t.Fatalf("seed %d: %s (who lost its customer recently) pushes %s %s (added later by: %q): stored %v, refused %v, policy says %v (%s)",
					o.seed, a.name, action, collection+"/"+id, o.former.later[collection+"/"+id], stored, refused[collection+"/"+id], want, res.Body)
			}
		}
		for _, id := range visits {
			check(crm.Visits, id, o.record(t, crm.Visits, id).GetString("purpose") == purpose, policy.Update)
		}
		for _, id := range orders {
			check(crm.Orders, id, o.record(t, crm.Orders, id).GetString("notes") == purpose, policy.Update)
			line := lineOf[id]
			_, err := o.app.FindRecordById(crm.OrderLines, line)
			o.graph[crm.OrderLines+"/"+line] = map[string]string{"order": id}
			check(crm.OrderLines, line, err == nil, policy.Create)
			delete(o.graph, crm.OrderLines+"/"+line)
		}
		o.loadGraph(t)
	}
}

func (o *org) record(t *testing.T, collection, id string) *core.Record {
	t.Helper()
	if id == "" {
		return core.NewRecord(core.NewBaseCollection(collection))
	}
	r, err := o.app.FindRecordById(collection, id)
	if err != nil {
		t.Fatalf("seed %d: %s/%s: %v", o.seed, collection, id, err)
	}
	return r
}

// checkForecast: the forecast answers signed-in users only, with the
// figures of reps the policy lets them read (a rep themselves, a manager
// the direct team and themselves, a superuser everyone); asking for a rep
// outside that is a 403.
func (o *org) checkForecast(t *testing.T) {
	const period = "/api/reports/forecast?from=2025-01-01&to=2029-12-31"
	users := o.ids(crm.Users)
	for _, a := range o.actors {
		res := o.do(t, a, http.MethodGet, period, nil)
		if a.policy.Role != policy.Superuser && !a.policy.SignedIn() {
			if res.Status != 401 {
				t.Fatalf("seed %d: %s asks for the forecast: %d, want 401", o.seed, a.name, res.Status)
			}
			continue
		}
		if res.Status != 200 {
			t.Fatalf("seed %d: %s asks for the forecast: %d %s", o.seed, a.name, res.Status, res.Body)
		}
		var f struct{ Currencies []crm.CurrencyForecast }
		res.JSON(t, &f)
		for _, c := range f.Currencies {
			for _, r := range c.ByRep {
				if !policy.For(crm.Users).Reads(a.policy, o.graph, r.Rep) {
					t.Fatalf("seed %d: %s's forecast shows rep %s, whom the policy keeps from them", o.seed, a.name, r.Rep)
				}
			}
		}
		rep := o.pick(users)
		res = o.do(t, a, http.MethodGet, period+"&rep="+rep, nil)
		want := policy.For(crm.Users).Reads(a.policy, o.graph, rep)
		if (res.Status == 200) != want || (!want && res.Status != 403) {
			t.Fatalf("seed %d: %s asks for rep %s's forecast: %d, policy says %v", o.seed, a.name, rep, res.Status, want)
		}
	}
}

// checkHandOver: POST /api/manager/hand-over does what policy.HandsOver
// says for random callers, customers and reps (401 signed out, 404 for a
// customer the caller cannot read, 403 otherwise). Besides the policy:
// whoever succeeds is a superuser or the active manager of both reps, the
// customer goes to an active rep, and a refusal changes nothing.
func (o *org) checkHandOver(t *testing.T) {
	o.loadGraph(t)
	customers, users := o.ids(crm.Customers), o.ids(crm.Users)
	for _, a := range o.actors {
		for range 4 {
			customer, to := o.pick(customers), o.pick(users)
			if a.policy.Role == policy.Manager && o.rng.IntN(2) == 0 { // their own reps, more often than by chance
				team := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return o.graph.Resolve(crm.Users, u, "manager") != a.policy.ID })
				if len(team) > 0 {
					to = o.pick(team)
				}
				mine := slices.DeleteFunc(slices.Clone(customers), func(c string) bool { return o.graph.Resolve(crm.Customers, c, "owner.manager") != a.policy.ID })
				if len(mine) > 0 {
					customer = o.pick(mine)
				}
			}
			before := o.graph.Resolve(crm.Customers, customer, "owner")
			want := http.StatusForbidden
			switch {
			case a.policy.Role != policy.Superuser && !a.policy.SignedIn():
				want = http.StatusUnauthorized
			case policy.HandsOver(a.policy, o.graph, customer, to):
				want = http.StatusOK
			case !policy.For(crm.Customers).Reads(a.policy, o.graph, customer):
				want = http.StatusNotFound
			}
			res := o.do(t, a, http.MethodPost, "/api/manager/hand-over", map[string]string{"customer": customer, "to": to})
			if res.Status != want {
				t.Fatalf("seed %d: %s hands %s (of %s) to %s: %d %s, want %d", o.seed, a.name, customer, before, to, res.Status, res.Body, want)
			}
			after := o.record(t, crm.Customers, customer).GetString("owner")
			if res.Status != http.StatusOK {
				if after != before {
					t.Fatalf("seed %d: %s was refused (%d), yet %s moved from %s to %s", o.seed, a.name, res.Status, customer, before, after)
				}
				continue
			}
			u := func(id, field string) string { return o.graph.Resolve(crm.Users, id, field) }
			if a.policy.Role != policy.Superuser && (a.policy.Role != policy.Manager || !a.policy.Active || u(before, "manager") != a.policy.ID || u(to, "manager") != a.policy.ID) {
				t.Fatalf("seed %d: %s handed %s from %s to %s, neither an admin nor the active manager of both", o.seed, a.name, customer, before, to)
			}
			if after != to || u(to, "role") != "rep" || u(to, "active") != "true" {
				t.Fatalf("seed %d: %s handed %s to %s (role %q, active %q); it belongs to %s", o.seed, a.name, customer, to, u(to, "role"), u(to, "active"), after)
			}
			o.loadGraph(t)
		}
	}
}

// checkBulkHandOver: POST /api/manager/hand-over with a set of customers
// ("customers", some not the caller's) or all of a rep's ("from") moves
// every one of them when the policy lets the caller hand over each, and
// otherwise none: 404 when one is out of the caller's sight, else 403.
func (o *org) checkBulkHandOver(t *testing.T) {
	o.loadGraph(t)
	customers, users := o.ids(crm.Customers), o.ids(crm.Users)
	owners := func() map[string]string {
		out := map[string]string{}
		for _, c := range customers {
			out[c] = o.record(t, crm.Customers, c).GetString("owner")
		}
		return out
	}
	for _, a := range o.actors {
		for range 2 {
			to := o.pick(users)
			mine := customers
			if a.policy.Role == policy.Manager {
				if team := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return o.graph.Resolve(crm.Users, u, "manager") != a.policy.ID }); len(team) > 0 && o.rng.IntN(3) > 0 {
					to = o.pick(team)
				}
				if m := slices.DeleteFunc(slices.Clone(customers), func(c string) bool { return o.graph.Resolve(crm.Customers, c, "owner.manager") != a.policy.ID }); len(m) > 0 && o.rng.IntN(3) > 0 {
					mine = m
				}
			}
			body := map[string]any{"to": to}
			var set []string
			if o.rng.IntN(3) == 0 { // all of one user's customers
				from := o.pick(users)
				if len(mine) > 0 && o.rng.IntN(2) == 0 {
					from = o.graph.Resolve(crm.Customers, o.pick(mine), "owner")
				}
				body["from"] = from
				for _, c := range customers {
					if o.graph.Resolve(crm.Customers, c, "owner") == from && policy.For(crm.Customers).Reads(a.policy, o.graph, c) {
						set = append(set, c)
					}
				}
			} else {
				var list []string
				for range 1 + o.rng.IntN(4) {
					c := o.pick(customers)
					if len(mine) > 0 && o.rng.IntN(4) > 0 {
						c = o.pick(mine)
					}
					list = append(list, c)
					if !slices.Contains(set, c) {
						set = append(set, c)
					}
				}
				if o.rng.IntN(3) == 0 { // one of them already the rep's: refused, though the others would move
					if held := slices.DeleteFunc(slices.Clone(customers), func(c string) bool { return o.graph.Resolve(crm.Customers, c, "owner") != to }); len(held) > 0 {
						c := o.pick(held)
						list = append(list, c)
						if !slices.Contains(set, c) {
							set = append(set, c)
						}
					}
				}
				body["customers"] = list
			}
			want := http.StatusOK
			switch {
			case a.policy.Role != policy.Superuser && !a.policy.SignedIn():
				want = http.StatusUnauthorized
			case len(set) == 0 || slices.ContainsFunc(set, func(c string) bool { return !policy.For(crm.Customers).Reads(a.policy, o.graph, c) }):
				want = http.StatusNotFound
			case slices.ContainsFunc(set, func(c string) bool { return !policy.HandsOver(a.policy, o.graph, c, to) }):
				want = http.StatusForbidden
			}
			before := owners()
			res := o.do(t, a, http.MethodPost, "/api/manager/hand-over", body)
			if res.Status != want {
				t.Fatalf("seed %d: %s hands %v to %s: %d %s, want %d", o.seed, a.name, body, to, res.Status, res.Body, want)
			}
			after := owners()
			for _, c := range customers {
				moved := res.Status == http.StatusOK && slices.Contains(set, c)
				if moved && after[c] != to || !moved && after[c] != before[c] {
					t.Fatalf("seed %d: %s handed %v to %s (%d): %s went from %s to %s", o.seed, a.name, body, to, res.Status, c, before[c], after[c])
				}
			}
			if res.Status == http.StatusOK {
				o.loadGraph(t)
			}
		}
	}
}

// checkCare: invites only for contacts a rep writes; a customer's link
// reaches that customer's preferences and nothing else.
func (o *org) checkCare(t *testing.T) {
	contacts := o.ids(crm.Contacts)
	for _, a := range o.actors {
		if a.policy.Role == policy.Superuser {
			continue // superusers have no customers of their own to invite
		}
		for _, contact := range []string{o.pickFor(a, policy.For(crm.Contacts), contacts, policy.Update), o.pick(contacts)} {
			res := o.do(t, a, http.MethodPost, "/api/care/invites", map[string]any{"contact": contact})
			want := policy.For(crm.Contacts).WritesRecord(a.policy, o.graph, contact, policy.Update)
			if got := res.Status == 200; got != want {
				t.Fatalf("seed %d: %s invites contact %s: status %d, policy says %v: %s", o.seed, a.name, contact, res.Status, want, res.Body)
			}
		}
	}
	// the customer's link: their own preferences, nobody else's
	res := o.do(t, actor{name: "customer"}, http.MethodGet, "/api/care/preferences?token="+url.QueryEscape(o.link), nil)
	if res.Status != 200 || !strings.Contains(res.Body, o.graph[crm.Contacts+"/"+o.linkContact]["name"]) {
		t.Fatalf("seed %d: the customer's own link: %d %s", o.seed, res.Status, res.Body)
	}
	for _, id := range contacts {
		if id != o.linkContact && strings.Contains(res.Body, o.graph[crm.Contacts+"/"+id]["name"]) {
			t.Fatalf("seed %d: the customer's link shows contact %s", o.seed, id)
		}
	}
	// the unsubscribe page shows the link's contact and no other; the link
	// neither confirms an e-mail address nor asks for one (other scopes)
	page := o.do(t, actor{name: "customer"}, http.MethodGet, "/care/unsubscribe?token="+url.QueryEscape(o.link), nil)
	if page.Status != 200 || !strings.Contains(page.Body, html.EscapeString(o.graph[crm.Contacts+"/"+o.linkContact]["name"])) {
		t.Fatalf("seed %d: the customer's unsubscribe page: %d", o.seed, page.Status)
	}
	for _, id := range contacts {
		if name := o.graph[crm.Contacts+"/"+id]["name"]; id != o.linkContact && strings.Contains(page.Body, html.EscapeString(name)) {
			t.Fatalf("seed %d: the unsubscribe page shows contact %s", o.seed, id)
		}
	}
	// refused for its scope, not by luck further on
	if res := o.do(t, actor{name: "customer"}, http.MethodPost, "/care/confirm?token="+url.QueryEscape(o.link), nil); res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "care:manage") {
		t.Fatalf("seed %d: a preferences link confirms an address: %d %.300s", o.seed, res.Status, res.Body)
	}
	form := url.Values{"token": {o.link}, "email": {"someone@example.test"}}.Encode()
	if res := o.client.For(o.t).DoWithHeaders(testapp.Anon, http.MethodPost, "/care/register/email", form,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "care:manage") {
		t.Fatalf("seed %d: a preferences link asks for an e-mail confirmation: %d", o.seed, res.Status)
	}
}

// freeField is a field of each collection that a writer may set, with a
// value that passes validation.
var freeField = map[string]struct {
	field string
	value func(i int) any
}{
	crm.Users:         {"name", func(i int) any { return fmt.Sprintf("Renamed %d", i) }},
	crm.Customers:     {"name", func(i int) any { return fmt.Sprintf("Renamed %d", i) }},
	crm.Contacts:      {"title", func(i int) any { return fmt.Sprintf("Title %d", i) }},
	crm.Visits:        {"purpose", func(i int) any { return fmt.Sprintf("Purpose %d", i) }},
	crm.FollowUps:     {"note", func(i int) any { return fmt.Sprintf("Note %d", i) }},
	crm.Orders:        {"notes", func(i int) any { return fmt.Sprintf("Notes %d", i) }},
	crm.OrderLines:    {"quantity", func(i int) any { return 100 + i }},
	crm.Devices:       {"app_version", func(i int) any { return fmt.Sprintf("9.%d", i) }},
	crm.Products:      {"name", func(i int) any { return fmt.Sprintf("Product %d", i) }},
	crm.Stages:        {"name", func(i int) any { return fmt.Sprintf("Stage %d", i) }},
	crm.Opportunities: {"title", func(i int) any { return fmt.Sprintf("Deal %d", i) }},
	crm.Quotas:        {"amount", func(i int) any { return 1000 + i }},
}

// newRecord is a valid new record of collection under parent (a record of
// the parent collection), as a writer would send it.
func newRecord(collection, parent string, i int) (map[string]any, string) {
	switch collection {
	case crm.Customers:
		return map[string]any{"name": fmt.Sprintf("New %d", i)}, ""
	case crm.Contacts:
		return map[string]any{"customer": parent, "name": fmt.Sprintf("New %d", i)}, crm.Customers
	case crm.Visits:
		return map[string]any{"customer": parent, "purpose": "new"}, crm.Customers
	case crm.FollowUps:
		return map[string]any{"customer": parent, "due_at": "2026-03-09 09:00:00.000Z", "note": "new"}, crm.Customers
	case crm.Orders:
		return map[string]any{"customer": parent, "currency": "EUR"}, crm.Customers
	case crm.OrderLines:
		return map[string]any{"order": parent, "product": testapp.ProductCoffee, "quantity": 1}, crm.Orders
	case crm.Devices:
		return map[string]any{"token": fmt.Sprintf("new-token-%d", i), "platform": "ios"}, ""
	case crm.Opportunities:
		return map[string]any{"customer": parent, "title": fmt.Sprintf("Deal %d", i), "amount": 500, "currency": "EUR", "stage": crm.DefaultStages[i%4].ID}, crm.Customers
	case crm.Quotas: // (a period of its own: one quota per rep, currency and start)
		start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
		return map[string]any{"rep": parent, "period_start": start.Format(time.DateOnly), "period_end": start.AddDate(0, 1, -1).Format(time.DateOnly),
			"amount": 5000, "currency": "EUR"}, crm.Users
	}
	return nil, ""
}

// checkWrites tries, as every actor, a create, updates (of a free field and
// of a protected one) and a delete in every collection, and compares what
// took effect with the policy. The graph is reloaded after every write.
func (o *org) checkWrites(t *testing.T) {
	n := 0
	for _, a := range o.actors {
		if a.policy.Role == policy.Superuser {
			continue // the control: superusers write everything, invariants aside
		}
		for _, s := range policy.Specs {
			n++
			base := "/api/collections/" + s.Name + "/records"
			// create
			if body, parentCollection := newRecord(s.Name, "", n); body != nil {
				parent := ""
				if parentCollection != "" {
					parent = o.pick(o.ids(parentCollection))
					body, _ = newRecord(s.Name, parent, n)
				}
				id := fmt.Sprintf("gencreate%06d", n)
				body["id"] = id
				fields := map[string]string{}
				for k, v := range body {
					fields[k] = fmt.Sprint(v)
				}
				if s.Author != "" {
					fields[s.Author] = a.policy.ID
				}
				o.graph[s.Name+"/"+id] = fields
				want := s.WritesRecord(a.policy, o.graph, id, policy.Create)
				delete(o.graph, s.Name+"/"+id)
				res := o.do(t, a, http.MethodPost, base, body)
				_, err := o.app.FindRecordById(s.Name, id)
				if (err == nil) != want || (res.Status == 200) != want {
					t.Fatalf("seed %d: %s creates %s under %s: status %d stored=%v, policy says %v: %s", o.seed, a.name, s.Name, parent, res.Status, err == nil, want, res.Body)
				}
				if want {
					o.loadGraph(t)
				}
			}
			ids := o.ids(s.Name)
			// update a free field
			if ff, ok := freeField[s.Name]; ok && len(ids) > 0 {
				id := o.pickFor(a, s, ids, policy.Update)
				want := s.WritesRecord(a.policy, o.graph, id, policy.Update)
				value := ff.value(n)
				res := o.do(t, a, http.MethodPatch, base+"/"+id, map[string]any{ff.field: value})
				got := fmt.Sprint(o.record(t, s.Name, id).Get(ff.field)) == fmt.Sprint(value)
				if got != want || (res.Status == 200) != want {
					t.Fatalf("seed %d: %s updates %s/%s.%s: status %d changed=%v, policy says %v: %s", o.seed, a.name, s.Name, id, ff.field, res.Status, got, want, res.Body)
				}
				if want {
					o.loadGraph(t)
				}
			}
			// update a protected field: never takes effect for a writer
			if prot := s.Protected(); len(prot) > 0 && len(ids) > 0 {
				id := o.pickFor(a, s, ids, policy.Update)
				field := o.pick(prot)
				before := o.record(t, s.Name, id)
				value := protectedValue(o, s.Name, field, before)
				if value != nil {
					res := o.do(t, a, http.MethodPatch, base+"/"+id, map[string]any{field: value})
					after := o.record(t, s.Name, id)
					if fmt.Sprint(after.Get(field)) != fmt.Sprint(before.Get(field)) {
						t.Fatalf("seed %d: %s changed protected %s/%s.%s from %v to %v (status %d)", o.seed, a.name, s.Name, id, field, before.Get(field), after.Get(field), res.Status)
					}
					if res.Status < 400 {
						t.Fatalf("seed %d: %s sent protected %s.%s and got %d: %s", o.seed, a.name, s.Name, field, res.Status, res.Body)
					}
				}
			}
			// a customer's consent, named here and not taken from the
			// policy: nobody but the customer (and superusers) changes it
			if s.Name == crm.Contacts && len(ids) > 0 {
				id := o.pickFor(a, s, ids, policy.Update)
				before := o.record(t, s.Name, id)
				field := o.pick([]string{"care_opt_in", "consent_at", "consent_method", "opted_out_at", "weekly_max", "quiet_start"})
				value := protectedValue(o, s.Name, field, before)
				if field == "quiet_start" {
					value = "03:30"
					o.do(t, a, http.MethodPatch, base+"/"+id, map[string]any{"quiet_start": value, "quiet_end": "04:30"})
				} else {
					o.do(t, a, http.MethodPatch, base+"/"+id, map[string]any{field: value})
				}
				if after := o.record(t, s.Name, id); fmt.Sprint(after.Get(field)) != fmt.Sprint(before.Get(field)) {
					t.Fatalf("seed %d: %s changed the consent of contact %s: %s from %v to %v", o.seed, a.name, id, field, before.Get(field), after.Get(field))
				}
			}
			// delete
			if len(ids) > 0 {
				id := o.pickFor(a, s, ids, policy.Delete)
				want := s.WritesRecord(a.policy, o.graph, id, policy.Delete)
				res := o.do(t, a, http.MethodDelete, base+"/"+id, nil)
				_, err := o.app.FindRecordById(s.Name, id)
				gone := err != nil
				if gone != want {
					// a delete the policy allows may still be refused by an
					// invariant (a record others point at); never the reverse
					if !want || res.Status >= 500 || res.Status < 400 || !strings.Contains(res.Body, "referenc") {
						t.Fatalf("seed %d: %s deletes %s/%s: status %d deleted=%v, policy says %v: %s", o.seed, a.name, s.Name, id, res.Status, gone, want, res.Body)
					}
				}
				if gone {
					o.loadGraph(t)
				}
			}
		}
	}
}

// pickFor picks a record for a write: half the time one the actor may
// write (when there is one), so that the checks of what a writer may not
// do have writers to check; otherwise any record.
func (o *org) pickFor(a actor, s policy.Spec, ids []string, action policy.Action) string {
	if o.rng.IntN(2) == 0 {
		var mine []string
		for _, id := range ids {
			if s.WritesRecord(a.policy, o.graph, id, action) || s.InScope(a.policy, o.graph, id) {
				mine = append(mine, id)
			}
		}
		if len(mine) > 0 {
			return o.pick(mine)
		}
	}
	return o.pick(ids)
}

// protectedValue is a new, valid value for a protected field (nil when
// none fits).
func protectedValue(o *org, collection, field string, r *core.Record) any {
	switch f := r.Collection().Fields.GetByName(field).(type) {
	case *core.RelationField:
		target := policy.Relations[field]
		for _, id := range o.sample(o.ids(target), 20) {
			if id != r.GetString(field) && (field != "manager" || o.graph[crm.Users+"/"+id]["role"] == "manager") && id != r.Id {
				return id
			}
		}
		return nil
	case *core.BoolField:
		return !r.GetBool(field)
	case *core.NumberField:
		return r.GetFloat(field) + 1
	case *core.DateField:
		return "2026-01-01 00:00:00.000Z"
	case *core.SelectField:
		for _, v := range f.Values {
			if v != r.GetString(field) {
				return v
			}
		}
	case *core.TextField:
		if field == "quiet_start" || field == "quiet_end" {
			return "03:30"
		}
		return "forged"
	}
	return nil
}

// formerOwners is what the generator did to territories, for the policy:
// recent maps "customer/user" to whether the user owned the customer until
// a change within the grace (false: long ago); later maps the records
// ("collection/id") added after a change (by a new owner, or pushed by
// anyone) to who added them.
type formerOwners struct {
	recent map[string]bool
	later  map[string]string // the user who added it
}

func (f formerOwners) OwnedUntilRecently(customer, user string) bool {
	return f.recent[customer+"/"+user]
}

func (f formerOwners) KnewOf(collection, id, user string) bool {
	by, ok := f.later[collection+"/"+id]
	return !ok || by == user
}
