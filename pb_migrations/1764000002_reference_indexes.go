package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Indexes on the optional links between a customer's records, so that
// deleting a contact or a visit (which empties the links to it) looks the
// links up instead of scanning.
var referenceIndexes = []struct{ collection, name, column string }{
	{crm.Visits, "idx_visits_contact", "contact"},
	{crm.FollowUps, "idx_follow_ups_contact", "contact"},
	{crm.FollowUps, "idx_follow_ups_visit", "visit"},
	{crm.Orders, "idx_orders_visit", "visit"},
}

func init() {
	m.Register(func(app core.App) error {
		return eachReferenceIndex(app, func(c *core.Collection, name, column string) {
			c.AddIndex(name, false, column, "")
		})
	}, func(app core.App) error {
		return eachReferenceIndex(app, func(c *core.Collection, name, _ string) { c.RemoveIndex(name) })
	})
}

func eachReferenceIndex(app core.App, fn func(c *core.Collection, name, column string)) error {
	for _, ix := range referenceIndexes {
		c, err := app.FindCollectionByNameOrId(ix.collection)
		if err != nil {
			return err
		}
		fn(c, ix.name, ix.column)
		if err := app.Save(c); err != nil {
			return err
		}
	}
	return nil
}
