package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// A customer's visits are indexed by customer and check-in time, so that
// a customer's last visit (crm.LastVisitQuery, which each push that logs
// a visit asks for every customer it visited) is one search of the index
// instead of a read of every visit of the customer (issue 26). The index
// serves what the one on customer alone served.
func init() {
	m.Register(func(app core.App) error {
		return visitsCustomerIndex(app, "customer, checked_in_at")
	}, func(app core.App) error {
		return visitsCustomerIndex(app, "customer")
	})
}

func visitsCustomerIndex(app core.App, columns string) error {
	c, err := app.FindCollectionByNameOrId(crm.Visits)
	if err != nil {
		return err
	}
	c.AddIndex("idx_visits_customer", false, columns, "")
	return app.Save(c) // indexes only: the table, and its capture triggers, stay
}
