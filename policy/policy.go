// Package policy is the one declaration of who may read and write what in
// Rounds. Everything else derives from it: the API rules the migrations
// store (and that PocketBase applies to REST lists, views, expand, filter,
// sort and realtime), the request guards of REST writes, the checks of a
// sync push, and the oracle of the authorization tests.
//
// It imports nothing from PocketBase. A record is reached through a
// Resolver, which follows relation paths such as "customer.owner".
package policy

import (
	"fmt"
	"slices"
	"strings"

	"rounds/crm"
)

// Action is what a caller does to records of a collection.
type Action string

// Actions of the record API.
const (
	List   Action = "list"
	View   Action = "view"
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Actions lists every action.
var Actions = []Action{List, View, Create, Update, Delete}

// Role of a caller as the policy sees it.
type Role string

// Roles. Rep and Manager are the users' own roles; the others are callers
// that are not users.
const (
	Anonymous Role = "anonymous"
	Rep       Role = crm.RoleRep
	Manager   Role = crm.RoleManager
	Superuser Role = "superuser"
	Customer  Role = "customer" // a contact holding a link; reaches only the care endpoints
)

// Actor is a caller. A user is signed in only while active: a deactivated
// user is treated like an anonymous caller everywhere.
type Actor struct {
	ID     string
	Role   Role
	Active bool
}

// SignedIn reports whether a is an active user (rep or manager).
func (a Actor) SignedIn() bool {
	return a.ID != "" && a.Active && (a.Role == Rep || a.Role == Manager)
}

// Access is how records of a collection are reached.
type Access int

const (
	// AdminsOnly collections are read and written by superusers only.
	AdminsOnly Access = iota
	// Scoped collections hang off a user: the owner reads (and, per Write,
	// writes), and the owner's manager reads when Team is set.
	Scoped
	// Catalogue collections are read by every signed-in user (as far as
	// Filter allows) and written by superusers only.
	Catalogue
)

// Cond is a condition on a record: the value at Path equals Value.
type Cond struct {
	Path  string
	Value string // compared as text; booleans as "true"/"false"
}

func (c Cond) rule() string {
	switch c.Value {
	case "true", "false":
		return c.Path + " = " + c.Value
	}
	return c.Path + " = '" + c.Value + "'"
}

// Spec is the access of one collection.
type Spec struct {
	Name   string
	Access Access
	// Owner is the relation path from a record to the user whose scope it
	// is in: "owner", "customer.owner", "order.customer.owner"; "id" for
	// users themselves.
	Owner string
	// Team: a manager reads the records of the users who report to them.
	Team bool
	// Filter limits what is read at all (the catalogue's active products).
	Filter *Cond
	// Writers are the roles that write records in their own scope, and
	// Write the actions they may take.
	Writers []Role
	Write   []Action
	// While is a condition on the record for a writer's update and delete
	// (and create, with WhileOnCreate): orders change only while draft.
	While         *Cond
	WhileOnCreate bool
	// Author is stamped with the writer on create; it may not name anyone
	// else and never changes afterwards.
	Author string
	// Parent ties a record to its place in the scope; it never changes.
	Parent string
	// Immutable fields never change after create (besides Author, Parent).
	Immutable []string
	// ServerOwned fields are computed or assigned by the server: a writer
	// never sets them (REST refuses them, a sync push keeps the server's).
	ServerOwned []string
	// CustomerOwned fields are the customer's consent and preferences:
	// only the customer, through their link, and superusers change them.
	CustomerOwned []string
	// AdminOnly fields are changed by superusers only (a user's role).
	AdminOnly []string
	// ScopeColumns: the records carry their scope in indexed columns kept
	// by the database (scope.go), and the read rules compare those.
	ScopeColumns bool
	// TeamWrites: the writers write the records of the reps who report to
	// them, not their own (a manager sets the quotas of their reps).
	TeamWrites bool
}

// Relations maps every relation field the policy follows to its collection.
var Relations = map[string]string{
	"owner": crm.Users, "manager": crm.Users, "user": crm.Users, "rep": crm.Users, "assignee": crm.Users,
	"customer": crm.Customers, "order": crm.Orders, "contact": crm.Contacts, "visit": crm.Visits,
	"product": crm.Products, "stage": crm.Stages, "opportunity": crm.Opportunities, "changed_by": crm.Users,
	"promised_by": crm.Users,
}

var (
	reps     = []Role{Rep}
	everyone = []Role{Rep, Manager}
	managers = []Role{Manager}
	writable = []Action{Create, Update, Delete}
	consent  = []string{"care_opt_in", "consent_at", "consent_method", "opted_out_at", "weekly_max", "quiet_start", "quiet_end"}
)

// Specs is the policy: one entry per collection Rounds defines or extends.
var Specs = []Spec{
	{Name: crm.Users, Access: Scoped, Owner: "id", Team: true, Writers: everyone, Write: []Action{Update},
		AdminOnly: []string{"role", "manager", "active", "verified"}},
	{Name: crm.Customers, Access: Scoped, Owner: "owner", Team: true, ScopeColumns: true, Writers: reps, Write: []Action{Create, Update},
		Author: "owner", ServerOwned: []string{"owner", "tier", "revenue_12m", "tier_changed_at", "last_visit_at", "next_visit_due"},
		AdminOnly: []string{"visit_every_days"}},
	{Name: crm.Contacts, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		Parent: "customer", CustomerOwned: consent, ServerOwned: []string{"email_stopped_at", "email_stop_reason"}},
	{Name: crm.Visits, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		Parent: "customer", Author: "rep", ServerOwned: []string{"rep", "geo_status"}},
	{Name: crm.FollowUps, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		Parent: "customer", Author: "assignee", ServerOwned: []string{"promised_by"}},
	{Name: crm.Orders, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		While: &Cond{"status", crm.StatusDraft}, Parent: "customer", Author: "rep",
		ServerOwned: []string{"rep", "total", "submitted_at"}},
	{Name: crm.OrderLines, Access: Scoped, Owner: "order.customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		While: &Cond{"order.status", crm.StatusDraft}, WhileOnCreate: true, Parent: "order",
		ServerOwned: []string{"unit_price", "line_total"}},
	{Name: crm.Products, Access: Catalogue, Filter: &Cond{"active", "true"}},
	{Name: crm.Stages, Access: Catalogue},
	{Name: crm.Opportunities, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true, Writers: reps, Write: writable,
		Parent: "customer", Author: "owner",
		ServerOwned: []string{"owner", "probability", "weighted_amount", "stage_entered_at", "closed_at", "changed_by"}},
	{Name: crm.OpportunityHistory, Access: Scoped, Owner: "opportunity.customer.owner", Team: true, ScopeColumns: true},
	{Name: crm.CustomerEvents, Access: Scoped, Owner: "customer.owner", Team: true, ScopeColumns: true},
	{Name: crm.CompanySettings, Access: Catalogue}, // read by every signed-in user (the tier cut-offs, the main currency); admins write
	{Name: crm.VisitsDue, Access: Scoped, Owner: "owner", Team: true},
	{Name: crm.CustomerTimeline, Access: Scoped, Owner: "customer.owner", Team: true},
	{Name: crm.RepActivity, Access: Scoped, Owner: "rep", Team: true},
	{Name: crm.StuckDevices, Access: AdminsOnly}, // the rep hears of it in the morning digest
	{Name: crm.CareStatus, Access: AdminsOnly},   // consent and what became of each greeting: the admins'
	// a rep's target: the rep reads it; their manager (or an admin) sets it
	{Name: crm.Quotas, Access: Scoped, Owner: "rep", Team: true, Writers: managers, Write: writable, TeamWrites: true,
		Immutable: []string{"rep"}},
	{Name: crm.Devices, Access: Scoped, Owner: "user", Writers: everyone, Write: writable, Author: "user"},
	{Name: crm.ContactDevices, Access: AdminsOnly},
	{Name: crm.CareCampaigns, Access: AdminsOnly},
	{Name: crm.CareTemplates, Access: AdminsOnly}, // the words of greetings, per language
	{Name: crm.Notifications, Access: AdminsOnly},
	{Name: crm.SyncConflicts, Access: AdminsOnly},
	{Name: crm.SyncDevices, Access: AdminsOnly},
	{Name: crm.CareInvites, Access: AdminsOnly},
}

// For returns the spec of a collection; unknown collections are admins only.
func For(collection string) Spec {
	i := slices.IndexFunc(Specs, func(s Spec) bool { return s.Name == collection })
	if i < 0 {
		return Spec{Name: collection, Access: AdminsOnly}
	}
	return Specs[i]
}

// TeamPath is the path from a record to the manager of its owner.
func (s Spec) TeamPath() string {
	if s.Owner == "id" {
		return "manager"
	}
	return s.Owner + ".manager"
}

// Writes reports whether role may take action on records in its own scope
// (before While and the fields are looked at).
func (s Spec) Writes(role Role, action Action) bool {
	return s.Access == Scoped && slices.Contains(s.Writers, role) && slices.Contains(s.Write, action)
}

// ---------------------------------------------------------------------------
// API rules

// signedIn is true for an active user, and never for anonymous callers:
// every rule that names @request.auth starts with it, so that no comparison
// of two empty values ever grants anything.
const signedIn = "@request.auth.id != '' && @request.auth.collectionName = 'users' && @request.auth.active = true"

// signedInByToken is the part of signedIn that reads no field of the
// caller's record (PocketBase resolves these from the token, without a
// join): the read rules of records with scope columns start with it, and
// the access middleware answers a deactivated caller 401 before any rule.
const signedInByToken = "@request.auth.id != '' && @request.auth.collectionName = 'users'"

// Rule returns the PocketBase API rule of action on the collection: nil for
// superusers only.
func (s Spec) Rule(action Action) *string {
	var expr string
	switch {
	case s.Access == AdminsOnly:
		return nil
	case s.Access == Catalogue:
		if action != List && action != View {
			return nil
		}
		expr = signedIn
		if s.Filter != nil {
			expr += " && " + s.Filter.rule()
		}
	case (action == List || action == View) && s.ScopeColumns:
		// no field of the caller's record, so no join: a list is an index
		// search (scope.go says why; the access middleware refuses a
		// deactivated caller's every request, and scope_team names only
		// managers)
		expr = fmt.Sprintf("%s && (%s = @request.auth.id", signedInByToken, s.ownerColumn())
		if s.Team {
			expr += fmt.Sprintf(" || %s = @request.auth.id", ScopeTeam)
		}
		expr += ")"
	case action == List || action == View:
		owner, team := s.Owner, s.TeamPath()
		expr = fmt.Sprintf("%s && (%s = @request.auth.id", signedIn, owner)
		if s.Team {
			expr += fmt.Sprintf(" || (@request.auth.role = '%s' && %s = @request.auth.id)", Manager, team)
		}
		expr += ")"
		if s.Filter != nil {
			expr += " && " + s.Filter.rule()
		}
	default:
		if !slices.Contains(s.Write, action) || len(s.Writers) == 0 {
			return nil
		}
		roles := make([]string, len(s.Writers))
		for i, r := range s.Writers {
			roles[i] = fmt.Sprintf("@request.auth.role = '%s'", r)
		}
		expr = fmt.Sprintf("%s && (%s)", signedIn, strings.Join(roles, " || "))
		if s.TeamWrites {
			// the record's user reports to the writer (for a create, the
			// user named in the body: PocketBase checks the new record)
			expr += fmt.Sprintf(" && %s = @request.auth.id && %s.role = '%s'", s.TeamPath(), s.Owner, Rep)
		} else if action != Create || s.Owner != s.Author {
			// (PocketBase checks a create rule before the request hooks
			// run; where the owner is the author, the guard stamps the
			// writer or refuses with a 403 naming the field)
			expr += fmt.Sprintf(" && %s = @request.auth.id", s.Owner)
		}
		if s.While != nil && (action != Create || s.WhileOnCreate) {
			expr += " && " + s.While.rule()
		}
	}
	return &expr
}

// ---------------------------------------------------------------------------
// Decisions (the guards of writes, and the oracle of the tests)

// Resolver reads a record's value at a relation path ("customer.owner"),
// following the relations named in Relations; "" when any step is empty
// or missing.
type Resolver interface {
	Resolve(collection, id, path string) string
}

// ownerOf is the user whose scope the record is in.
func (s Spec) ownerOf(r Resolver, id string) string {
	if s.Owner == "id" {
		return id
	}
	return r.Resolve(s.Name, id, s.Owner)
}

// Reads reports whether a may read the record id (list, view, expand,
// realtime, sync pull).
func (s Spec) Reads(a Actor, r Resolver, id string) bool {
	if a.Role == Superuser {
		return true
	}
	if !a.SignedIn() {
		return false
	}
	if s.Filter != nil && r.Resolve(s.Name, id, s.Filter.Path) != s.Filter.Value {
		return false
	}
	switch s.Access {
	case Catalogue:
		return true
	case Scoped:
		owner := s.ownerOf(r, id)
		if owner == "" {
			return false
		}
		if owner == a.ID {
			return true
		}
		return s.Team && a.Role == Manager && r.Resolve(crm.Users, owner, "manager") == a.ID
	}
	return false
}

// InScope reports whether the record id is in a's own scope (what a sync
// pull carries and what a writer may write).
func (s Spec) InScope(a Actor, r Resolver, id string) bool {
	return a.SignedIn() && s.Access == Scoped && s.ownerOf(r, id) == a.ID
}

// WritesRecord reports whether a may take action (create, update, delete)
// on the record id as stored (for create: as it would be stored, author
// stamped), before the fields are looked at.
func (s Spec) WritesRecord(a Actor, r Resolver, id string, action Action) bool {
	if a.Role == Superuser {
		return true
	}
	if !a.SignedIn() || !s.Writes(a.Role, action) {
		return false
	}
	if s.TeamWrites {
		owner := s.ownerOf(r, id)
		if owner == "" || owner == a.ID || r.Resolve(crm.Users, owner, "manager") != a.ID || r.Resolve(crm.Users, owner, "role") != string(Rep) {
			return false
		}
	} else if !s.InScope(a, r, id) {
		return false
	}
	if s.While != nil && (action != Create || s.WhileOnCreate) {
		return r.Resolve(s.Name, id, s.While.Path) == s.While.Value
	}
	return true
}

// FormerOwners knows the territory changes: which customers a user owned
// until a change less than the grace ago, and which records under them the
// user can have known. The sync reads them from its change log; tests from
// what they did.
type FormerOwners interface {
	OwnedUntilRecently(customer, user string) bool
	// KnewOf reports whether the record was under its customer before the
	// customer left the user, or was written by the user since.
	KnewOf(collection, id, user string) bool
}

// parents are the collections of the Parent relations.
var parents = map[string]string{"customer": crm.Customers, "order": crm.Orders}

// customerPath is the path from a record to the customer whose history it
// is in ("id" for customers); ok is false for records outside any
// customer's history (users, devices, the catalogue).
func (s Spec) customerPath() (path string, ok bool) {
	switch {
	case s.Access != Scoped:
		return "", false
	case s.Owner == "owner":
		return "id", true
	case strings.HasSuffix(s.Owner, ".owner"):
		return strings.TrimSuffix(s.Owner, ".owner"), true
	}
	return "", false
}

// SyncWritesRecord is WritesRecord for a device's push, with the grace of
// a territory change: a rep may also write under a customer they owned
// until a change less than the grace ago, so that what they did offline
// before they knew lands in the customer's history (the follow-ups they
// promised go to the new owner). The grace covers only what the rep's
// device can have held: a record the new owner added after the change is
// not the former owner's to change, nor a draft order of theirs to add
// lines to. REST and every read ignore the grace.
func (s Spec) SyncWritesRecord(a Actor, r Resolver, f FormerOwners, id string, action Action) bool {
	if s.WritesRecord(a, r, id, action) {
		return true
	}
	path, ok := s.customerPath()
	if !ok || a.Role != Rep || !a.SignedIn() || !s.Writes(a.Role, action) {
		return false
	}
	customer := r.Resolve(s.Name, id, path)
	if customer == "" || s.ownerOf(r, id) == a.ID || !f.OwnedUntilRecently(customer, a.ID) {
		return false
	}
	if action != Create && s.Name != crm.Customers && !f.KnewOf(s.Name, id, a.ID) {
		return false
	}
	if parent := parents[s.Parent]; parent != "" && parent != crm.Customers && !f.KnewOf(parent, r.Resolve(s.Name, id, s.Parent), a.ID) {
		return false
	}
	if s.While != nil && (action != Create || s.WhileOnCreate) {
		return r.Resolve(s.Name, id, s.While.Path) == s.While.Value
	}
	return true
}

// Syncs reports whether a role uses the sync endpoints (pull and push): a
// rep's phone carries the rep's own territory; a manager reads the team on
// the managers' page and is answered 403.
func Syncs(r Role) bool { return r == Rep }

// HandsOver reports whether a may hand the customer to the user to: a
// territory change, the one write a manager makes (on the managers' page).
// A manager moves a customer owned by one of their reps — active or not: a
// rep who left leaves customers to hand on — to another active rep of
// theirs; a superuser moves any customer to any active rep. Nobody hands a
// customer to its owner, to a manager, or to someone outside the team;
// reps hand nothing. The sync carries the change to both phones.
func HandsOver(a Actor, r Resolver, customer, to string) bool {
	return HandOverRefusal(a, r, customer, to) == ""
}

// HandOverRefusal says why a may not hand the customer to the user to, in
// words they can act on; "" when they may (see HandsOver).
func HandOverRefusal(a Actor, r Resolver, customer, to string) string {
	owner := r.Resolve(crm.Customers, customer, "owner")
	switch {
	case a.Role != Superuser && (!a.SignedIn() || a.Role != Manager):
		return "Only a sales manager hands customers over, between the reps of their team"
	case owner == "":
		return "The customer has no owner; an admin assigns it"
	case to == owner:
		return "The customer already belongs to that rep"
	case r.Resolve(crm.Users, to, "role") != string(Rep) || r.Resolve(crm.Users, to, "active") != "true" ||
		(a.Role == Manager && r.Resolve(crm.Users, to, "manager") != a.ID):
		return fmt.Sprintf("User %q is not an active rep of your team", to)
	case a.Role == Manager && r.Resolve(crm.Users, owner, "manager") != a.ID:
		return "The customer is not held by a rep of your team; an admin moves it"
	}
	return ""
}

// FieldRule says what a writer may do with a field.
type FieldRule int

const (
	FieldFree     FieldRule = iota // the writer sets it
	FieldStamped                   // the author: the server stamps the writer; naming anyone else is refused
	FieldServer                    // computed or assigned by the server: never from a writer
	FieldCustomer                  // the customer's consent: only through their link
	FieldAdmin                     // superusers only
	FieldFixed                     // set on create, never changed (parent, immutable)
)

// Field returns the rule of a field for a writer; isNew tells a create.
func (s Spec) Field(field string, isNew bool) FieldRule {
	switch {
	case field == s.Author:
		if isNew {
			return FieldStamped
		}
		return FieldFixed
	case slices.Contains(s.CustomerOwned, field):
		return FieldCustomer
	case slices.Contains(s.ServerOwned, field):
		return FieldServer
	case slices.Contains(s.AdminOnly, field):
		return FieldAdmin
	case !isNew && (field == s.Parent || slices.Contains(s.Immutable, field)):
		return FieldFixed
	}
	return FieldFree
}

// DeviceField is the rule of a field in a sync push. A device's copy of a
// server-owned or customer-owned field is stale rather than forged, so the
// push keeps the server's value (and logs it); the author and the parent
// are refused when they change, as over REST.
func (s Spec) DeviceField(field string, isNew bool) FieldRule {
	switch {
	case slices.Contains(s.CustomerOwned, field), slices.Contains(s.AdminOnly, field):
		return FieldServer
	case field == s.Author && isNew:
		return FieldStamped
	case slices.Contains(s.ServerOwned, field):
		return FieldServer
	}
	return s.Field(field, isNew)
}

// FieldError explains, in words a caller can act on, why a writer may not
// set field; "" when they may.
func (s Spec) FieldError(field string, isNew bool) string {
	switch s.Field(field, isNew) {
	case FieldStamped:
		return fmt.Sprintf("The field %s.%s is set by the server to the signed-in user; it cannot name someone else", s.Name, field)
	case FieldServer:
		return fmt.Sprintf("The field %s.%s is set by the server and cannot be sent by a rep", s.Name, field)
	case FieldCustomer:
		return fmt.Sprintf("The field %s.%s is the customer's own choice: only the customer (through their link) or an admin changes it", s.Name, field)
	case FieldAdmin:
		return fmt.Sprintf("The field %s.%s is managed by admins", s.Name, field)
	case FieldFixed:
		return fmt.Sprintf("The field %s.%s cannot be changed once the record exists", s.Name, field)
	}
	return ""
}

// Protected lists the fields a writer may not set freely on create or update.
func (s Spec) Protected() []string {
	var out []string
	add := func(fs ...string) {
		for _, f := range fs {
			if f != "" && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	add(s.Author, s.Parent)
	add(s.Immutable...)
	add(s.ServerOwned...)
	add(s.CustomerOwned...)
	add(s.AdminOnly...)
	return out
}

// Graph is a Resolver over records held in memory: "collection/id" to
// field to value. Tests build it from the database to ask the policy what
// an actor may do.
type Graph map[string]map[string]string

// Resolve follows path from the record, through the relations in Relations.
func (g Graph) Resolve(collection, id, path string) string {
	for _, step := range strings.Split(path, ".") {
		if step == "id" {
			continue
		}
		v := g[collection+"/"+id][step]
		if v == "" {
			return ""
		}
		next, ok := Relations[step]
		if !ok {
			return v
		}
		if _, exists := g[next+"/"+v]; !exists {
			return ""
		}
		collection, id = next, v
	}
	return id
}
