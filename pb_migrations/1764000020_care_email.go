package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Care by e-mail (issue 25, second step): an outbox row names its channel
// (push, the default, or email), and a contact's address that answered a
// permanent failure is stopped (email_stopped_at, email_stop_reason: the
// server's, never a rep's), so that no more mail goes to it until an admin
// clears it.
func init() {
	m.Register(func(app core.App) error {
		n, err := app.FindCollectionByNameOrId(crm.Notifications)
		if err != nil {
			return err
		}
		n.Fields.Add(&core.SelectField{Name: "channel", Values: []string{crm.ChannelPush, crm.ChannelEmail}, MaxSelect: 1, Help: "empty is push"})
		if err := app.Save(n); err != nil {
			return fmt.Errorf("notifications: %w", err)
		}
		c, err := app.FindCollectionByNameOrId(crm.Contacts)
		if err != nil {
			return err
		}
		c.Fields.Add(
			&core.DateField{Name: "email_stopped_at", Help: "the mail server refused the address for good; cleared by an admin"},
			&core.TextField{Name: "email_stop_reason", Max: 500},
		)
		if err := app.Save(c); err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		for name, fields := range map[string][]string{crm.Notifications: {"channel"}, crm.Contacts: {"email_stopped_at", "email_stop_reason"}} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			for _, f := range fields {
				c.Fields.RemoveByName(f)
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
