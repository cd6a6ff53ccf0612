package hooks

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/tiers"
)

// coverageOf reads the company's settings (the defaults if the record is
// missing).
func coverageOf(app core.App) crm.Coverage {
	r, err := app.FindRecordById(crm.CompanySettings, crm.CompanySettingsID)
	if err != nil {
		return crm.DefaultCoverage
	}
	return crm.CoverageOf(r)
}

// registerCoverage keeps each customer's visit cycle current on every path
// but sync (which does the same itself): next_visit_due on every save of the
// customer, last_visit_at (and so next_visit_due) when one of its visits is
// written or deleted, every customer's next_visit_due when the settings
// change; and records territory changes for the customer's timeline.
func registerCoverage(app core.App, deps Deps) {
	onSave(app, crm.Customers, func(app core.App, r *core.Record) error {
		crm.ScheduleVisits(r, coverageOf(app), deps.Now())
		return nil
	})
	refresh := func(app core.App, r *core.Record) error {
		if err := RefreshLastVisit(app, r.GetString("customer")); err != nil {
			return err
		}
		if !r.IsNew() {
			if old := r.Original().GetString("customer"); old != r.GetString("customer") {
				return RefreshLastVisit(app, old)
			}
		}
		return nil
	}
	app.OnRecordCreate(crm.Visits).BindFunc(func(e *core.RecordEvent) error { return inTx(e, nil, refresh) })
	app.OnRecordUpdate(crm.Visits).BindFunc(func(e *core.RecordEvent) error { return inTx(e, nil, refresh) })
	app.OnRecordDelete(crm.Visits).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, nil, func(app core.App, r *core.Record) error { return RefreshLastVisit(app, r.GetString("customer")) })
	})
	app.OnRecordValidate(crm.CompanySettings).BindFunc(func(e *core.RecordEvent) error {
		if err := checkShares(e.Record); err != nil {
			return err
		}
		return e.Next()
	})
	app.OnRecordUpdate(crm.CompanySettings).BindFunc(func(e *core.RecordEvent) error {
		before := crm.CoverageOf(e.Record.Original())
		return inTx(e, nil, func(app core.App, r *core.Record) error {
			cv := crm.CoverageOf(r)
			if _, err := app.NonconcurrentDB().NewQuery("UPDATE customers SET next_visit_due = " + crm.NextVisitDueSQL(cv) +
				" WHERE next_visit_due IS NOT " + crm.NextVisitDueSQL(cv)).Execute(); err != nil {
				return err
			}
			if cv.AShare == before.AShare && cv.BShare == before.BShare && cv.RevenueMonths == before.RevenueMonths && cv.MainCurrency == before.MainCurrency {
				return nil
			}
			// new cut-offs, window or currency: the tiers now, as the
			// nightly job would set them (with their timeline events)
			st, err := tiers.Run(context.Background(), app, deps.Now())
			if err != nil {
				return err
			}
			app.Logger().Info("tiers recomputed after a change of settings", "customers", st.Customers, "changed", st.Changed)
			return nil
		})
	})
}

// checkShares refuses tier cut-offs out of order: A's share of revenue
// must be below A and B's together (0 < A < B ≤ 100; the fields' own
// bounds hold the rest), with both fields named.
func checkShares(r *core.Record) error {
	cv := crm.CoverageOf(r) // an empty field keeps its default
	if cv.AShare < cv.BShare {
		return nil
	}
	msg := fmt.Sprintf("tier_a_share (%g %%) must be below tier_b_share (%g %%): A customers make the first tier_a_share %% of revenue, A and B together tier_b_share %%", cv.AShare, cv.BShare)
	return apis.NewBadRequestError(msg, validation.Errors{
		"tier_a_share": validation.NewError("validation_tier_order", fmt.Sprintf("Must be below tier_b_share (%g).", cv.BShare)),
		"tier_b_share": validation.NewError("validation_tier_order", fmt.Sprintf("Must be above tier_a_share (%g).", cv.AShare)),
	})
}

// RefreshLastVisit sets a customer's last_visit_at to its latest checked-in
// visit (and so its next_visit_due), saving only when it changed.
func RefreshLastVisit(app core.App, customer string) error {
	if customer == "" {
		return nil
	}
	var last string
	if err := app.NonconcurrentDB().NewQuery(crm.LastVisitQuery).
		Bind(dbx.Params{"c": customer}).Row(&last); err != nil {
		return fmt.Errorf("last visit of %s: %w", customer, err)
	}
	c, err := app.FindRecordById(crm.Customers, customer)
	if err != nil {
		return nil // deleted with its visits
	}
	if c.GetString("last_visit_at") == last {
		return nil
	}
	c.Set("last_visit_at", last)
	return app.Save(c)
}
