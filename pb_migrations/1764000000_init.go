// Package pb_migrations holds the schema of Rounds as Go migrations. It is
// blank-imported by main and by the test app; `rounds migrate` runs it.
package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// Access rules. A rep's scope is the customers they own and everything
// hanging off those customers; a manager reads the scope of their reps.
const (
	ownCustomer     = "owner = @request.auth.id"
	teamCustomer    = "owner.manager = @request.auth.id"
	viaOwnCustomer  = "customer.owner = @request.auth.id"
	viaTeamCustomer = "customer.owner.manager = @request.auth.id"
	viaOwnOrder     = "order.customer.owner = @request.auth.id"
	viaTeamOrder    = "order.customer.owner.manager = @request.auth.id"
	isRep           = "@request.auth.collectionName = 'users' && @request.auth.role = 'rep'"
)

func or(a, b string) string { return a + " || " + b }

func init() {
	m.Register(up, down)
}

// collectionsInOrder is the creation order (relations point backwards).
var collectionsInOrder = []string{
	crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Products,
	crm.Orders, crm.OrderLines, crm.Devices, crm.ContactDevices,
	crm.CareCampaigns, crm.Notifications, crm.SyncConflicts,
}

func up(app core.App) error {
	users, err := app.FindCollectionByNameOrId(crm.Users)
	if err != nil {
		return err
	}
	if err := setupUsers(app, users); err != nil {
		return fmt.Errorf("users: %w", err)
	}

	ids := map[string]string{crm.Users: users.Id}
	rel := func(name, target string, required, cascade bool) *core.RelationField {
		return &core.RelationField{Name: name, CollectionId: ids[target], Required: required, CascadeDelete: cascade, MaxSelect: 1}
	}

	builders := map[string]func() *core.Collection{
		crm.Customers: func() *core.Collection {
			c := synced(crm.Customers)
			c.Fields.Add(
				&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
				rel("owner", crm.Users, true, false),
				phone("phone"),
				&core.EmailField{Name: "email"},
				&core.TextField{Name: "address", Max: 500},
				latitude("lat"), longitude("lng"),
				timezone("timezone"),
				&core.SelectField{Name: "tier", Values: crm.Tiers, MaxSelect: 1},
				notes("notes"),
			)
			c.ListRule = rule(or(ownCustomer, teamCustomer))
			c.ViewRule = c.ListRule
			c.CreateRule = rule(isRep)
			c.UpdateRule = rule(ownCustomer)
			c.DeleteRule = nil // history must outlive a rep's mistake: only admins delete customers
			c.AddIndex("idx_customers_owner", false, "owner", "")
			c.AddIndex("idx_customers_name", false, "name", "")
			return c
		},
		crm.Contacts: func() *core.Collection {
			c := synced(crm.Contacts)
			c.Fields.Add(
				rel("customer", crm.Customers, true, true),
				&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
				&core.TextField{Name: "title", Max: 200},
				phone("phone"),
				&core.EmailField{Name: "email"},
				&core.TextField{Name: "birthday", Max: 5, Pattern: crm.BirthdayPattern, Help: "MM-DD"},
				&core.NumberField{Name: "birth_year", OnlyInt: true, Min: types.Pointer(1900.0), Max: types.Pointer(2100.0)},
				&core.BoolField{Name: "care_opt_in"},
				&core.SelectField{Name: "preferred_channel", Values: []string{"push", "email", "sms", "phone"}, MaxSelect: 1},
				timezone("timezone"),
			)
			scoped(c, viaOwnCustomer, viaTeamCustomer, true)
			c.AddIndex("idx_contacts_customer", false, "customer", "")
			c.AddIndex("idx_contacts_birthday", false, "birthday", "")
			return c
		},
		crm.Visits: func() *core.Collection {
			c := synced(crm.Visits)
			c.Fields.Add(
				rel("customer", crm.Customers, true, true),
				rel("contact", crm.Contacts, false, false),
				rel("rep", crm.Users, true, false),
				&core.DateField{Name: "planned_at"},
				&core.DateField{Name: "checked_in_at"},
				&core.DateField{Name: "checked_out_at"},
				latitude("check_in_lat"), longitude("check_in_lng"),
				&core.TextField{Name: "purpose", Max: 500},
				&core.TextField{Name: "outcome", Max: 2000},
				notes("notes"),
				&core.SelectField{Name: "geo_status", Values: []string{crm.GeoVerified, crm.GeoFar, crm.GeoUnknown}, MaxSelect: 1},
			)
			scoped(c, viaOwnCustomer, viaTeamCustomer, true)
			c.AddIndex("idx_visits_customer", false, "customer", "")
			c.AddIndex("idx_visits_rep_planned", false, "rep, planned_at", "")
			return c
		},
		crm.FollowUps: func() *core.Collection {
			c := synced(crm.FollowUps)
			c.Fields.Add(
				rel("customer", crm.Customers, true, true),
				rel("contact", crm.Contacts, false, false),
				rel("visit", crm.Visits, false, false),
				rel("assignee", crm.Users, true, false),
				&core.DateField{Name: "due_at", Required: true},
				&core.TextField{Name: "note", Max: 2000, Presentable: true},
				&core.SelectField{Name: "status", Values: []string{"open", "done", "cancelled"}, MaxSelect: 1, Required: true},
			)
			scoped(c, viaOwnCustomer, viaTeamCustomer, true)
			c.AddIndex("idx_follow_ups_customer", false, "customer", "")
			c.AddIndex("idx_follow_ups_assignee_due", false, "assignee, status, due_at", "")
			c.AddIndex("idx_follow_ups_due", false, "due_at", "status = 'open'")
			return c
		},
		crm.Products: func() *core.Collection {
			c := core.NewBaseCollection(crm.Products)
			c.Fields.Add(
				&core.TextField{Name: "sku", Required: true, Max: 64, Pattern: `^[A-Za-z0-9._-]+$`, Presentable: true},
				&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
				&core.NumberField{Name: "unit_price", Min: types.Pointer(0.0), Max: types.Pointer(1e9)},
				currency("currency"),
				&core.BoolField{Name: "active"},
			)
			timestamps(c)
			c.ListRule = rule("@request.auth.id != '' && active = true")
			c.ViewRule = c.ListRule
			c.AddIndex("idx_products_sku", true, "sku", "")
			return c
		},
		crm.Orders: func() *core.Collection {
			c := synced(crm.Orders)
			c.Fields.Add(
				rel("customer", crm.Customers, true, true),
				rel("rep", crm.Users, true, false),
				rel("visit", crm.Visits, false, false),
				&core.SelectField{Name: "status", Values: crm.OrderStatuses, MaxSelect: 1, Required: true},
				currency("currency"),
				&core.NumberField{Name: "total", Min: types.Pointer(0.0)},
				notes("notes"),
				&core.DateField{Name: "submitted_at"},
			)
			scoped(c, viaOwnCustomer, viaTeamCustomer, false)
			draftOnly := viaOwnCustomer + " && status = 'draft'"
			c.CreateRule = rule(viaOwnCustomer)
			c.UpdateRule = rule(draftOnly)
			c.DeleteRule = rule(draftOnly)
			c.AddIndex("idx_orders_customer", false, "customer", "")
			c.AddIndex("idx_orders_rep", false, "rep", "")
			c.AddIndex("idx_orders_status", false, "status", "")
			return c
		},
		crm.OrderLines: func() *core.Collection {
			c := synced(crm.OrderLines)
			c.Fields.Add(
				rel("order", crm.Orders, true, true),
				rel("product", crm.Products, true, false),
				&core.NumberField{Name: "quantity", Required: true, OnlyInt: true, Min: types.Pointer(1.0), Max: types.Pointer(1e6)},
				&core.NumberField{Name: "discount_pct", Min: types.Pointer(0.0), Max: types.Pointer(100.0)},
				&core.NumberField{Name: "unit_price", Min: types.Pointer(0.0)},
				&core.NumberField{Name: "line_total", Min: types.Pointer(0.0)},
			)
			draftOnly := viaOwnOrder + " && order.status = 'draft'"
			c.ListRule = rule(or(viaOwnOrder, viaTeamOrder))
			c.ViewRule = c.ListRule
			c.CreateRule = rule(draftOnly)
			c.UpdateRule = rule(draftOnly)
			c.DeleteRule = rule(draftOnly)
			c.AddIndex("idx_order_lines_order", false, "`order`", "")
			c.AddIndex("idx_order_lines_product", false, "product", "")
			return c
		},
		crm.Devices: func() *core.Collection {
			c := core.NewBaseCollection(crm.Devices)
			c.Fields.Add(
				rel("user", crm.Users, true, true),
				&core.TextField{Name: "token", Required: true, Max: 4096, Presentable: true},
				platform("platform"),
				&core.TextField{Name: "app_version", Max: 50},
				&core.DateField{Name: "last_sync_at"},
			)
			timestamps(c)
			own := "user = @request.auth.id"
			c.ListRule, c.ViewRule, c.CreateRule, c.UpdateRule, c.DeleteRule = rule(own), rule(own), rule(own), rule(own), rule(own)
			c.AddIndex("idx_devices_token", true, "token", "")
			c.AddIndex("idx_devices_user", false, "user", "")
			return c
		},
		crm.ContactDevices: func() *core.Collection {
			c := core.NewBaseCollection(crm.ContactDevices)
			c.Fields.Add(
				rel("contact", crm.Contacts, true, true),
				&core.TextField{Name: "token", Required: true, Max: 4096, Presentable: true},
				platform("platform"),
			)
			timestamps(c)
			c.AddIndex("idx_contact_devices_token", true, "token", "")
			c.AddIndex("idx_contact_devices_contact", false, "contact", "")
			return c
		},
		crm.CareCampaigns: func() *core.Collection {
			c := core.NewBaseCollection(crm.CareCampaigns)
			c.Fields.Add(
				&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
				&core.TextField{Name: "date", Required: true, Max: 5, Pattern: crm.BirthdayPattern, Help: "MM-DD"},
				&core.TextField{Name: "title", Required: true, Max: 200},
				&core.TextField{Name: "body", Required: true, Max: 1000},
				&core.SelectField{Name: "tiers", Values: crm.Tiers, MaxSelect: len(crm.Tiers), Help: "empty means every tier"},
				&core.BoolField{Name: "active"},
			)
			timestamps(c)
			c.AddIndex("idx_care_campaigns_date", false, "date", "")
			return c
		},
		crm.Notifications: func() *core.Collection {
			c := core.NewBaseCollection(crm.Notifications)
			c.Fields.Add(
				&core.TextField{Name: "kind", Required: true, Max: 50},
				&core.SelectField{Name: "audience", Values: []string{"rep", "customer"}, MaxSelect: 1, Required: true},
				rel("user", crm.Users, false, true),
				rel("contact", crm.Contacts, false, true),
				&core.TextField{Name: "dedup_key", Required: true, Max: 300, Presentable: true},
				&core.TextField{Name: "title", Max: 200},
				&core.TextField{Name: "body", Max: 4000},
				&core.SelectField{Name: "status", Values: []string{"pending", "sent", "failed", "skipped", "cancelled"}, MaxSelect: 1, Required: true},
				&core.NumberField{Name: "attempts", OnlyInt: true, Min: types.Pointer(0.0)},
				&core.DateField{Name: "next_attempt_at"},
				&core.DateField{Name: "sent_at"},
				&core.TextField{Name: "error", Max: 2000},
			)
			timestamps(c)
			c.AddIndex("idx_notifications_dedup_key", true, "dedup_key", "")
			c.AddIndex("idx_notifications_due", false, "status, next_attempt_at", "")
			c.AddIndex("idx_notifications_contact", false, "contact", "")
			c.AddIndex("idx_notifications_user", false, "user", "")
			return c
		},
		crm.SyncConflicts: func() *core.Collection {
			c := core.NewBaseCollection(crm.SyncConflicts)
			c.Fields.Add(
				&core.TextField{Name: "collection", Required: true, Max: 50, Presentable: true},
				&core.TextField{Name: "record_id", Required: true, Max: 100, Presentable: true},
				&core.TextField{Name: "field", Max: 100},
				&core.JSONField{Name: "server_value", MaxSize: 1 << 20},
				&core.JSONField{Name: "client_value", MaxSize: 1 << 20},
				&core.TextField{Name: "resolution", Max: 100},
				&core.TextField{Name: "rule", Max: 500},
				rel("user", crm.Users, false, false),
				&core.TextField{Name: "device", Max: 200},
			)
			timestamps(c)
			c.AddIndex("idx_sync_conflicts_record", false, "collection, record_id", "")
			c.AddIndex("idx_sync_conflicts_user", false, "user", "")
			return c
		},
	}

	for _, name := range collectionsInOrder {
		c := builders[name]()
		if err := app.Save(c); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		ids[name] = c.Id
	}

	settings := app.Settings()
	settings.Meta.AppName = "Rounds"
	return app.Save(settings)
}

func down(app core.App) error {
	for i := len(collectionsInOrder) - 1; i >= 0; i-- {
		c, err := app.FindCollectionByNameOrId(collectionsInOrder[i])
		if err != nil {
			continue
		}
		if err := app.Delete(c); err != nil {
			return fmt.Errorf("drop %s: %w", collectionsInOrder[i], err)
		}
	}
	users, err := app.FindCollectionByNameOrId(crm.Users)
	if err != nil {
		return err
	}
	// PocketBase's defaults for the users collection
	self := rule("id = @request.auth.id")
	users.ListRule, users.ViewRule, users.CreateRule, users.UpdateRule, users.DeleteRule = self, self, rule(""), self, self
	users.AuthRule = rule("")
	users.AuthToken.Duration = 7 * 24 * 60 * 60
	users.RemoveIndex("idx_users_manager")
	for _, f := range []string{"role", "manager", "timezone", "active"} {
		users.Fields.RemoveByName(f)
	}
	return app.Save(users)
}

// setupUsers turns PocketBase's default users collection into reps and
// managers: no public sign-up, only active users may sign in, and tokens that
// outlast several days offline.
func setupUsers(app core.App, users *core.Collection) error {
	users.Fields.Add(
		&core.SelectField{Name: "role", Values: []string{crm.RoleRep, crm.RoleManager}, MaxSelect: 1, Required: true},
		&core.RelationField{Name: "manager", CollectionId: users.Id, MaxSelect: 1},
		timezone("timezone"),
		&core.BoolField{Name: "active"},
	)
	self := "id = @request.auth.id"
	users.ListRule = rule(or(self, "manager = @request.auth.id"))
	users.ViewRule = users.ListRule
	users.CreateRule = nil // no public sign-up: admins create reps and managers
	users.UpdateRule = rule(self)
	users.DeleteRule = nil
	users.AuthRule = rule("active = true")
	users.AuthToken.Duration = 30 * 24 * 60 * 60 // 30 days, refreshable through auth-refresh
	users.AddIndex("idx_users_manager", false, "manager", "")
	return app.Save(users)
}

// synced creates a collection whose records phones create offline: ids are
// client-made, and created/updated are kept.
func synced(name string) *core.Collection {
	c := core.NewBaseCollection(name)
	id := c.Fields.GetByName("id").(*core.TextField)
	id.Pattern = crm.ClientIDPattern
	id.Min = crm.ClientIDMin
	id.Max = crm.ClientIDMax
	timestamps(c)
	return c
}

// scoped sets the rules of a collection hanging off a customer: the owner
// reads and writes, the owner's manager reads.
func scoped(c *core.Collection, own, team string, writable bool) {
	c.ListRule = rule(or(own, team))
	c.ViewRule = c.ListRule
	if writable {
		c.CreateRule = rule(own)
		c.UpdateRule = rule(own)
		c.DeleteRule = rule(own)
	}
}

func timestamps(c *core.Collection) {
	c.Fields.Add(
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
}

func rule(expr string) *string { return types.Pointer(expr) }

func phone(name string) *core.TextField {
	return &core.TextField{Name: name, Max: 40, Pattern: `^[0-9+()./ -]*$`}
}

func notes(name string) *core.TextField { return &core.TextField{Name: name, Max: 10000} }

func timezone(name string) *core.TextField {
	return &core.TextField{Name: name, Max: 64, Help: "IANA time zone, e.g. Europe/Berlin"}
}

func currency(name string) *core.TextField {
	return &core.TextField{Name: name, Required: true, Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`}
}

func platform(name string) *core.SelectField {
	return &core.SelectField{Name: name, Values: []string{"android", "ios", "web"}, MaxSelect: 1}
}

func latitude(name string) *core.NumberField {
	return &core.NumberField{Name: name, Min: types.Pointer(-90.0), Max: types.Pointer(90.0)}
}

func longitude(name string) *core.NumberField {
	return &core.NumberField{Name: name, Min: types.Pointer(-180.0), Max: types.Pointer(180.0)}
}
