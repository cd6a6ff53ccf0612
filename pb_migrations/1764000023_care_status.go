package pb_migrations

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/carestatus"
	"rounds/crm"
)

// Each contact's care, readable in the dashboard (issue 25, fifth step):
// the care_status view, and the table of celebrated days it reads (filled
// here for the next 420 days, and kept ahead by the reminders job).
func init() {
	m.Register(func(app core.App) error {
		if _, err := app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS ` + carestatus.CelebrationsTable + ` (
			day TEXT NOT NULL, calendar TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (calendar, key, day)) WITHOUT ROWID`).Execute(); err != nil {
			return err
		}
		if err := carestatus.EnsureCelebrations(app, time.Now()); err != nil {
			return err
		}
		c := core.NewViewCollection(crm.CareStatus)
		c.ViewQuery = carestatus.ViewQuery
		if err := app.Save(c); err != nil {
			return fmt.Errorf("view %s: %w", crm.CareStatus, err)
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId(crm.CareStatus); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		_, err := app.DB().NewQuery(`DROP TABLE IF EXISTS ` + carestatus.CelebrationsTable).Execute()
		return err
	})
}
