package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// redundantIndexes are indexes whose columns begin another index of the
// same table: that index finds what they find, and every write to the
// table paid for both (issue 26). TestNoIndexIsAPrefixOfAnother keeps it so.
var redundantIndexes = []struct{ collection, name, columns string }{
	{crm.Contacts, "idx_contacts_birthday", "birthday"},         // inside idx_contacts_birthday_opt_in
	{crm.Customers, "idx_customers_owner", "owner"},             // inside idx_customers_owner_due
	{crm.Orders, "idx_orders_rep", "rep"},                       // inside idx_orders_rep_submitted
	{crm.Notifications, "idx_notifications_contact", "contact"}, // inside idx_notifications_contact_sent
}

func init() {
	m.Register(func(app core.App) error {
		for _, ix := range redundantIndexes {
			c, err := app.FindCollectionByNameOrId(ix.collection)
			if err != nil {
				return err
			}
			c.RemoveIndex(ix.name)
			if err := app.Save(c); err != nil { // indexes only: the table, and its capture triggers, stay
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		for _, ix := range redundantIndexes {
			c, err := app.FindCollectionByNameOrId(ix.collection)
			if err != nil {
				return err
			}
			c.AddIndex(ix.name, false, ix.columns, "")
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
