package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Every channel has its outbox rows (issue 25, third step): a greeting for
// a customer who prefers a call is a task for their rep (channel phone), and
// one for a customer who prefers SMS says why it was not sent (channel sms).
// _rounds_jobs keeps when each background job last ran, so that a greeting
// whose window passed while the server was down leaves a row saying so.
func init() {
	m.Register(func(app core.App) error {
		n, err := app.FindCollectionByNameOrId(crm.Notifications)
		if err != nil {
			return err
		}
		f, ok := n.Fields.GetByName("channel").(*core.SelectField)
		if !ok {
			return fmt.Errorf("notifications.channel is missing")
		}
		f.Values = []string{crm.ChannelPush, crm.ChannelEmail, crm.ChannelPhone, crm.ChannelSMS}
		f.Help = "empty is push; phone is a call the rep was asked to make"
		if err := app.Save(n); err != nil {
			return fmt.Errorf("notifications: %w", err)
		}
		_, err = app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS _rounds_jobs (name TEXT PRIMARY KEY NOT NULL, last_run TEXT NOT NULL DEFAULT '')`).Execute()
		return err
	}, func(app core.App) error {
		if _, err := app.DB().NewQuery(`DROP TABLE IF EXISTS _rounds_jobs`).Execute(); err != nil {
			return err
		}
		n, err := app.FindCollectionByNameOrId(crm.Notifications)
		if err != nil {
			return err
		}
		if f, ok := n.Fields.GetByName("channel").(*core.SelectField); ok {
			f.Values = []string{crm.ChannelPush, crm.ChannelEmail}
		}
		return app.Save(n)
	})
}
