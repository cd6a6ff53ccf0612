package policy_test

import (
	"slices"
	"strings"
	"testing"

	"rounds/crm"
	"rounds/policy"
)

// TestEveryCollectionHasASpec: a collection Rounds defines gets its access
// from the policy, not from a default.
func TestEveryCollectionHasASpec(t *testing.T) {
	t.Parallel()
	for _, c := range crm.Collections {
		if !slices.ContainsFunc(policy.Specs, func(s policy.Spec) bool { return s.Name == c }) {
			t.Errorf("collection %s has no spec in policy.Specs", c)
		}
	}
}

// TestRulesNeverMatchEmptyAuth: every rule that names @request.auth first
// requires a signed-in user — active, except in the read rules of records
// with scope columns, which read no field of the caller's record (the
// access middleware refuses a deactivated caller before any rule) — so
// that no comparison of two empty values grants anything (the hole of the
// first rules).
func TestRulesNeverMatchEmptyAuth(t *testing.T) {
	t.Parallel()
	const byToken = "@request.auth.id != '' && @request.auth.collectionName = 'users'"
	const guard = byToken + " && @request.auth.active = true"
	for _, s := range policy.Specs {
		for _, a := range policy.Actions {
			r := s.Rule(a)
			if r == nil {
				continue
			}
			if *r == "" {
				t.Errorf("%s %s: an empty rule lets everyone in", s.Name, a)
				continue
			}
			want := guard
			if s.ScopeColumns && (a == policy.List || a == policy.View) {
				want = byToken
				if strings.Contains(*r, "@request.auth.") && strings.Count(*r, "@request.auth.") != strings.Count(*r, "@request.auth.id")+1 {
					t.Errorf("%s %s: rule %q reads a field of the caller's record: a join, and lists scan the table", s.Name, a, *r)
				}
			}
			if *r != want && !strings.HasPrefix(*r, want+" && ") {
				t.Errorf("%s %s: rule %q does not start with the signed-in guard %q", s.Name, a, *r, want)
			}
		}
	}
}

func TestRulesByAccess(t *testing.T) {
	t.Parallel()
	for _, s := range policy.Specs {
		for _, a := range policy.Actions {
			r := s.Rule(a)
			switch {
			case s.Access == policy.AdminsOnly && r != nil:
				t.Errorf("%s %s: admins-only collection has rule %q", s.Name, a, *r)
			case s.Access == policy.Catalogue && (a == policy.List || a == policy.View) && r == nil:
				t.Errorf("%s %s: catalogue not readable", s.Name, a)
			case s.Access == policy.Scoped && (a == policy.List || a == policy.View):
				owner, team := s.Owner, s.TeamPath()
				if s.ScopeColumns { // the columns that hold the owner and the team
					team = policy.ScopeTeam
					if owner != "owner" {
						owner = policy.ScopeOwner
					}
				}
				if r == nil || !strings.Contains(*r, owner+" = @request.auth.id") {
					t.Errorf("%s %s: scoped read rule %v does not name the owner %s", s.Name, a, r, owner)
				}
				if s.ScopeColumns { // scope_team names only managers (TestScopeTeamNamesManagers)
					if s.Team && !strings.Contains(*r, "|| "+team+" = @request.auth.id") {
						t.Errorf("%s %s: no team read: %q", s.Name, a, *r)
					}
					continue
				}
				if s.Team && !strings.Contains(*r, "@request.auth.role = 'manager' && "+team+" = @request.auth.id") {
					t.Errorf("%s %s: team read is not limited to managers: %q", s.Name, a, *r)
				}
			case s.Access == policy.Scoped && a != policy.List && a != policy.View:
				if (r != nil) != slices.Contains(s.Write, a) {
					t.Errorf("%s %s: rule %v, but Write is %v", s.Name, a, r, s.Write)
				}
				if r != nil && !strings.Contains(*r, "@request.auth.role = ") {
					t.Errorf("%s %s: write rule %q does not look at the role", s.Name, a, *r)
				}
			}
		}
	}
}

func TestFieldRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		coll, field string
		isNew       bool
		rest, sync  policy.FieldRule
	}{
		{crm.Customers, "owner", true, policy.FieldStamped, policy.FieldStamped},
		{crm.Customers, "owner", false, policy.FieldFixed, policy.FieldServer},
		{crm.Customers, "tier", true, policy.FieldServer, policy.FieldServer},
		{crm.Customers, "name", false, policy.FieldFree, policy.FieldFree},
		{crm.Contacts, "care_opt_in", true, policy.FieldCustomer, policy.FieldServer},
		{crm.Contacts, "care_opt_in", false, policy.FieldCustomer, policy.FieldServer},
		{crm.Contacts, "weekly_max", false, policy.FieldCustomer, policy.FieldServer},
		{crm.Contacts, "customer", false, policy.FieldFixed, policy.FieldFixed},
		{crm.Contacts, "customer", true, policy.FieldFree, policy.FieldFree},
		{crm.FollowUps, "assignee", false, policy.FieldFixed, policy.FieldFixed},
		{crm.FollowUps, "assignee", true, policy.FieldStamped, policy.FieldStamped},
		{crm.Devices, "user", false, policy.FieldFixed, policy.FieldFixed},
		{crm.Users, "role", false, policy.FieldAdmin, policy.FieldServer},
		{crm.OrderLines, "order", false, policy.FieldFixed, policy.FieldFixed},
		{crm.OrderLines, "unit_price", true, policy.FieldServer, policy.FieldServer},
	}
	for _, c := range cases {
		s := policy.For(c.coll)
		if got := s.Field(c.field, c.isNew); got != c.rest {
			t.Errorf("%s.%s (new=%v): Field = %v, want %v", c.coll, c.field, c.isNew, got, c.rest)
		}
		if got := s.DeviceField(c.field, c.isNew); got != c.sync {
			t.Errorf("%s.%s (new=%v): DeviceField = %v, want %v", c.coll, c.field, c.isNew, got, c.sync)
		}
		if (c.rest == policy.FieldFree) != (s.FieldError(c.field, c.isNew) == "") {
			t.Errorf("%s.%s: FieldError %q disagrees with %v", c.coll, c.field, s.FieldError(c.field, c.isNew), c.rest)
		}
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	g := policy.Graph{
		"users/mgr":          {"role": "manager"},
		"users/rep1":         {"role": "rep", "manager": "mgr"},
		"users/lonely":       {"role": "rep"},
		"customers/c1":       {"owner": "rep1"},
		"customers/c2":       {"owner": "lonely"},
		"orders/o1":          {"customer": "c1", "status": "draft"},
		"orders/o2":          {"customer": "c1", "status": "submitted"},
		"order_lines/l2":     {"order": "o2"},
		"products/p":         {"active": "true"},
		"products/retired":   {"active": "false"},
		"contacts/k2":        {"customer": "c2"},
		"orders/o3":          {"customer": "c2", "status": "draft"},
		"orders/o4":          {"customer": "c2", "status": "submitted"},
		"order_lines/l4":     {"order": "o4"},
		"contacts/k3":        {"customer": "c2"},
		"orders/o5":          {"customer": "c2", "status": "draft"},
		"order_lines/l5":     {"order": "o5"},
		"order_lines/l6":     {"order": "o3"},
		"customers/orphaned": {},
	}
	recent := formerOwners{owner: map[string]string{"c2": "rep1"}, later: map[string]bool{"contacts/k3": true, "orders/o5": true}}
	formerMgr := formerOwners{owner: map[string]string{"c2": "mgr"}}
	nobody := formerOwners{}
	anon := policy.Actor{Role: policy.Anonymous}
	rep1 := policy.Actor{ID: "rep1", Role: policy.Rep, Active: true}
	lonely := policy.Actor{ID: "lonely", Role: policy.Rep, Active: true}
	mgr := policy.Actor{ID: "mgr", Role: policy.Manager, Active: true}
	demoted := policy.Actor{ID: "mgr", Role: policy.Rep, Active: true}
	inactive := policy.Actor{ID: "rep1", Role: policy.Rep}
	customers, contacts, orders, lines, products := policy.For(crm.Customers), policy.For(crm.Contacts), policy.For(crm.Orders), policy.For(crm.OrderLines), policy.For(crm.Products)

	for _, c := range []struct {
		name string
		got  bool
		want bool
	}{
		{"anonymous reads a customer of a rep without a manager", customers.Reads(anon, g, "c2"), false},
		{"anonymous reads an orphaned customer", customers.Reads(anon, g, "orphaned"), false},
		{"anonymous reads the catalogue", products.Reads(anon, g, "p"), false},
		{"rep reads own customer", customers.Reads(rep1, g, "c1"), true},
		{"rep reads another's customer", customers.Reads(rep1, g, "c2"), false},
		{"manager reads the team's customer", customers.Reads(mgr, g, "c1"), true},
		{"manager reads a customer outside the team", customers.Reads(mgr, g, "c2"), false},
		{"demoted manager reads the old team", customers.Reads(demoted, g, "c1"), false},
		{"deactivated rep reads own customer", customers.Reads(inactive, g, "c1"), false},
		{"rep without manager reads own contact", contacts.Reads(lonely, g, "k2"), true},
		{"rep reads a retired product", products.Reads(rep1, g, "retired"), false},
		{"rep updates a draft order", orders.WritesRecord(rep1, g, "o1", policy.Update), true},
		{"rep updates a submitted order", orders.WritesRecord(rep1, g, "o2", policy.Update), false},
		{"rep deletes a line of a submitted order", lines.WritesRecord(rep1, g, "l2", policy.Delete), false},
		{"manager writes the team's customer", customers.WritesRecord(mgr, g, "c1", policy.Update), false},
		{"rep deletes own customer", customers.WritesRecord(rep1, g, "c1", policy.Delete), false},
		// the grace of a territory change: c2 was rep1's until recently
		{"former owner pushes a contact of c2", contacts.SyncWritesRecord(rep1, g, recent, "k2", policy.Update), true},
		{"former owner edits it over REST", contacts.WritesRecord(rep1, g, "k2", policy.Update), false},
		{"former owner reads it", contacts.Reads(rep1, g, "k2"), false},
		{"former owner pushes a draft order of c2", orders.SyncWritesRecord(rep1, g, recent, "o3", policy.Update), true},
		{"former owner pushes a line of c2's submitted order", lines.SyncWritesRecord(rep1, g, recent, "l4", policy.Update), false},
		{"someone else pushes under c2", contacts.SyncWritesRecord(demoted, g, recent, "k2", policy.Update), false},
		{"a deactivated former owner pushes", contacts.SyncWritesRecord(inactive, g, recent, "k2", policy.Update), false},
		{"a manager who owned it pushes", contacts.SyncWritesRecord(mgr, g, formerMgr, "k2", policy.Update), false},
		{"former owner deletes the customer", customers.SyncWritesRecord(rep1, g, recent, "c2", policy.Delete), false},
		{"former owner pushes after the grace", contacts.SyncWritesRecord(rep1, g, nobody, "k2", policy.Update), false},
		// what the new owner added after the change was never rep1's
		{"former owner pushes a contact added since", contacts.SyncWritesRecord(rep1, g, recent, "k3", policy.Update), false},
		{"former owner deletes a contact added since", contacts.SyncWritesRecord(rep1, g, recent, "k3", policy.Delete), false},
		{"former owner adds a line to an order added since", lines.SyncWritesRecord(rep1, g, recent, "l5", policy.Create), false},
		{"former owner adds a line to their own draft", lines.SyncWritesRecord(rep1, g, recent, "l6", policy.Create), true},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// formerOwners maps a customer to the user who owned it until recently;
// later holds the records ("collection/id") added after the change by
// someone else.
type formerOwners struct {
	owner map[string]string
	later map[string]bool
}

func (f formerOwners) OwnedUntilRecently(customer, user string) bool {
	return f.owner[customer] == user
}

func (f formerOwners) KnewOf(collection, id, user string) bool { return !f.later[collection+"/"+id] }

// TestHandsOver: a manager hands a customer from one of their reps (who may
// have left) to another active rep of theirs, and nothing else.
func TestHandsOver(t *testing.T) {
	t.Parallel()
	g := policy.Graph{
		"users/mgr":        {"role": "manager", "active": "true"},
		"users/other":      {"role": "manager", "active": "true"},
		"users/boss":       {"role": "manager", "active": "true"},
		"users/sub":        {"role": "manager", "active": "true", "manager": "mgr"},
		"users/rep1":       {"role": "rep", "active": "true", "manager": "mgr"},
		"users/rep2":       {"role": "rep", "active": "true", "manager": "mgr"},
		"users/gone":       {"role": "rep", "active": "false", "manager": "mgr"},
		"users/theirs":     {"role": "rep", "active": "true", "manager": "other"},
		"users/lonely":     {"role": "rep", "active": "true"},
		"customers/c1":     {"owner": "rep1"},
		"customers/left":   {"owner": "gone"},
		"customers/far":    {"owner": "theirs"},
		"customers/own":    {"owner": "mgr"},
		"customers/nobody": {},
	}
	mgr := policy.Actor{ID: "mgr", Role: policy.Manager, Active: true}
	for _, c := range []struct {
		name         string
		actor        policy.Actor
		customer, to string
		want         bool
	}{
		{"manager: one rep to another", mgr, "c1", "rep2", true},
		{"manager: a rep who left to one who stays", mgr, "left", "rep1", true},
		{"manager: to a rep who left", mgr, "c1", "gone", false},
		{"manager: to the owner", mgr, "c1", "rep1", false},
		{"manager: to another team's rep", mgr, "c1", "theirs", false},
		{"manager: to a rep without a manager", mgr, "c1", "lonely", false},
		{"manager: to themselves", mgr, "c1", "mgr", false},
		{"manager: to a manager of theirs", mgr, "c1", "sub", false},
		{"manager: to nobody", mgr, "c1", "", false},
		{"manager: to a user who does not exist", mgr, "c1", "ghost", false},
		{"manager: another team's customer into the team", mgr, "far", "rep1", false},
		{"manager: their own customer", mgr, "own", "rep1", false},
		{"manager: a customer without owner", mgr, "nobody", "rep1", false},
		{"manager: a customer that does not exist", mgr, "ghost", "rep1", false},
		{"the other manager", policy.Actor{ID: "other", Role: policy.Manager, Active: true}, "c1", "rep2", false},
		{"their manager's manager", policy.Actor{ID: "boss", Role: policy.Manager, Active: true}, "c1", "rep2", false},
		{"deactivated manager", policy.Actor{ID: "mgr", Role: policy.Manager}, "c1", "rep2", false},
		{"demoted manager", policy.Actor{ID: "mgr", Role: policy.Rep, Active: true}, "c1", "rep2", false},
		{"the owner gives it away", policy.Actor{ID: "rep1", Role: policy.Rep, Active: true}, "c1", "rep2", false},
		{"anonymous", policy.Actor{Role: policy.Anonymous}, "c1", "rep2", false},
		{"a customer's link", policy.Actor{Role: policy.Customer}, "c1", "rep2", false},
		{"superuser: to any active rep", policy.Actor{Role: policy.Superuser}, "far", "rep1", true},
		{"superuser: to a rep who left", policy.Actor{Role: policy.Superuser}, "far", "gone", false},
		{"superuser: to a manager", policy.Actor{Role: policy.Superuser}, "far", "mgr", false},
	} {
		if got := policy.HandsOver(c.actor, g, c.customer, c.to); got != c.want {
			t.Errorf("%s: HandsOver(%s, %s -> %s) = %v, want %v", c.name, c.actor.ID, c.customer, c.to, got, c.want)
		}
	}
}
