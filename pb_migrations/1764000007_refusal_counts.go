package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// A record a device cannot get accepted is pushed again at every sync: it
// is now one sync_conflicts row with how often it was refused (count) and
// when last (last_seen_at), instead of a new row per sync. Rows logged
// before count 1, seen when they were created.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(crm.SyncConflicts)
		if err != nil {
			return err
		}
		c.Fields.Add(
			&core.NumberField{Name: "count", OnlyInt: true, Min: types.Pointer(0.0), Help: "refusals: how many pushes sent this record and were refused"},
			&core.DateField{Name: "last_seen_at"},
		)
		c.AddIndex("idx_sync_conflicts_stuck", false, "resolution, device, last_seen_at", "")
		if err := app.Save(c); err != nil {
			return err
		}
		_, err = app.DB().NewQuery("UPDATE " + crm.SyncConflicts + " SET count = 1, last_seen_at = created").Execute()
		return err
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(crm.SyncConflicts)
		if err != nil {
			return err
		}
		c.RemoveIndex("idx_sync_conflicts_stuck")
		c.Fields.RemoveByName("count")
		c.Fields.RemoveByName("last_seen_at")
		return app.Save(c)
	})
}
