package hooks

import (
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
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
	app.OnRecordUpdate(crm.CompanySettings).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, nil, func(app core.App, r *core.Record) error {
			_, err := app.NonconcurrentDB().NewQuery("UPDATE customers SET next_visit_due = " + crm.NextVisitDueSQL(crm.CoverageOf(r)) +
				" WHERE next_visit_due IS NOT " + crm.NextVisitDueSQL(crm.CoverageOf(r))).Execute()
			return err
		})
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
