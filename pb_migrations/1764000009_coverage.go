package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	rsync "rounds/sync"
)

// Customer value and coverage: the company's settings (tier thresholds,
// visit cycles, main currency), each customer's revenue, tier change, visit
// cycle, last visit and next visit due (filled from the visits there are),
// and customer_events (territory and tier changes, for the timeline).
func init() {
	m.Register(func(app core.App) error {
		settings := core.NewBaseCollection(crm.CompanySettings)
		settings.Fields.Add(
			&core.TextField{Name: "main_currency", Required: true, Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`, Help: "revenue in other currencies does not count towards tiers"},
			&core.NumberField{Name: "tier_a_share", Min: types.Pointer(1.0), Max: types.Pointer(100.0), Help: "percent of revenue held by A customers"},
			&core.NumberField{Name: "tier_b_share", Min: types.Pointer(1.0), Max: types.Pointer(100.0), Help: "percent held by A and B customers"},
			&core.NumberField{Name: "cycle_a_days", OnlyInt: true, Min: types.Pointer(1.0), Max: types.Pointer(3650.0)},
			&core.NumberField{Name: "cycle_b_days", OnlyInt: true, Min: types.Pointer(1.0), Max: types.Pointer(3650.0)},
			&core.NumberField{Name: "cycle_c_days", OnlyInt: true, Min: types.Pointer(1.0), Max: types.Pointer(3650.0)},
			&core.NumberField{Name: "revenue_months", OnlyInt: true, Min: types.Pointer(1.0), Max: types.Pointer(120.0)},
		)
		timestamps(settings)
		if err := app.Save(settings); err != nil {
			return fmt.Errorf("create %s: %w", crm.CompanySettings, err)
		}
		cv := crm.DefaultCoverage
		s := core.NewRecord(settings)
		s.Id = crm.CompanySettingsID
		s.Load(map[string]any{"main_currency": cv.MainCurrency, "tier_a_share": cv.AShare, "tier_b_share": cv.BShare,
			"cycle_a_days": cv.CycleA, "cycle_b_days": cv.CycleB, "cycle_c_days": cv.CycleC, "revenue_months": cv.RevenueMonths})
		if err := app.Save(s); err != nil {
			return err
		}

		customers, err := app.FindCollectionByNameOrId(crm.Customers)
		if err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId(crm.Users)
		if err != nil {
			return err
		}
		customers.Fields.Add(
			&core.NumberField{Name: "revenue_12m", Help: "orders confirmed or fulfilled in the main currency over the revenue window (the tiers job)"},
			&core.DateField{Name: "tier_changed_at"},
			&core.NumberField{Name: "visit_every_days", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(3650.0), Help: "0: the tier's cycle"},
			&core.DateField{Name: "last_visit_at"},
			&core.DateField{Name: "next_visit_due"},
		)
		customers.AddIndex("idx_customers_owner_due", false, "owner, next_visit_due", "")
		if err := app.Save(customers); err != nil {
			return err
		}

		events := core.NewBaseCollection(crm.CustomerEvents)
		events.Fields.Add(
			&core.RelationField{Name: "customer", CollectionId: customers.Id, Required: true, CascadeDelete: true, MaxSelect: 1},
			&core.DateField{Name: "at", Required: true},
			&core.SelectField{Name: "kind", Values: []string{crm.EventOwnerChange, crm.EventTierChange}, MaxSelect: 1, Required: true},
			&core.TextField{Name: "summary", Max: 500},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1},
		)
		timestamps(events)
		events.AddIndex("idx_customer_events", false, "customer, at", "")
		if err := app.Save(events); err != nil {
			return fmt.Errorf("create %s: %w", crm.CustomerEvents, err)
		}
		if err := ApplyPolicy(app); err != nil {
			return err
		}
		if err := rsync.InstallCapture(app.DB()); err != nil { // customers' new synced columns
			return err
		}
		// what the visits say so far
		_, err = app.DB().NewQuery("UPDATE customers SET last_visit_at = " + crm.LastVisitSQL).Execute()
		if err == nil {
			_, err = app.DB().NewQuery("UPDATE customers SET next_visit_due = " + crm.NextVisitDueSQL(cv)).Execute()
		}
		return err
	}, func(app core.App) error {
		if err := rsync.DropTriggers(app.DB(), crm.Customers); err != nil {
			return err
		}
		if customers, err := app.FindCollectionByNameOrId(crm.Customers); err == nil {
			customers.RemoveIndex("idx_customers_owner_due")
			for _, f := range []string{"revenue_12m", "tier_changed_at", "visit_every_days", "last_visit_at", "next_visit_due"} {
				customers.Fields.RemoveByName(f)
			}
			if err := app.Save(customers); err != nil {
				return err
			}
		}
		for _, name := range []string{crm.CustomerEvents, crm.CompanySettings} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return rsync.InstallCapture(app.DB())
	})
}
