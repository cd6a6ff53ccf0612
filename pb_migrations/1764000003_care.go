package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	rsync "rounds/sync"
)

// Customer care: a contact's consent and preferences (quiet hours, weekly
// maximum), and what the push outbox needs to deliver once.
func init() {
	m.Register(func(app core.App) error {
		contacts, err := app.FindCollectionByNameOrId(crm.Contacts)
		if err != nil {
			return err
		}
		clock := `^([01][0-9]|2[0-3]):[0-5][0-9]$`
		contacts.Fields.Add(
			&core.TextField{Name: "quiet_start", Max: 5, Pattern: clock, Help: "HH:MM, the contact's local time"},
			&core.TextField{Name: "quiet_end", Max: 5, Pattern: clock, Help: "HH:MM, the contact's local time"},
			&core.NumberField{Name: "weekly_max", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(50.0), Help: "customer messages per 7 days; 0 means no maximum"},
			&core.DateField{Name: "consent_at"},
			&core.TextField{Name: "consent_method", Max: 200},
			&core.DateField{Name: "opted_out_at"},
		)
		contacts.AddIndex("idx_contacts_birthday_opt_in", false, "birthday, care_opt_in", "")
		if err := app.Save(contacts); err != nil {
			return err
		}

		notifications, err := app.FindCollectionByNameOrId(crm.Notifications)
		if err != nil {
			return err
		}
		notifications.Fields.Add(
			&core.JSONField{Name: "data", MaxSize: 8 << 10},
			&core.TextField{Name: "message_id", Max: 300},
			&core.DateField{Name: "expires_at"},
		)
		notifications.AddIndex("idx_notifications_contact_sent", false, "contact, status, sent_at", "")
		if err := app.Save(notifications); err != nil {
			return err
		}
		// a schema change may rebuild a table, and its triggers with it
		return rsync.InstallTriggers(app.DB(), crm.Contacts)
	}, func(app core.App) error {
		contacts, err := app.FindCollectionByNameOrId(crm.Contacts)
		if err != nil {
			return err
		}
		contacts.RemoveIndex("idx_contacts_birthday_opt_in")
		for _, f := range []string{"quiet_start", "quiet_end", "weekly_max", "consent_at", "consent_method", "opted_out_at"} {
			contacts.Fields.RemoveByName(f)
		}
		if err := app.Save(contacts); err != nil {
			return err
		}
		notifications, err := app.FindCollectionByNameOrId(crm.Notifications)
		if err != nil {
			return err
		}
		notifications.RemoveIndex("idx_notifications_contact_sent")
		for _, f := range []string{"data", "message_id", "expires_at"} {
			notifications.Fields.RemoveByName(f)
		}
		return app.Save(notifications)
	})
}
