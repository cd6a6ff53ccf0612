package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// Phones stuck with records the server refuses, made visible:
//   - a record a device cannot get accepted is pushed again at every sync;
//     it is now one sync_conflicts row with how often it was refused
//     (count) and when last (last_seen_at), instead of a new row per sync
//     (rows logged before: count 1, seen when they were created);
//   - sync_devices.refused is how many records the device's last push had
//     refused, stuck_since when its pushes began to have refusals (cleared
//     by a push with none).
func init() {
	m.Register(func(app core.App) error {
		conflicts, err := app.FindCollectionByNameOrId(crm.SyncConflicts)
		if err != nil {
			return err
		}
		conflicts.Fields.Add(
			&core.NumberField{Name: "count", OnlyInt: true, Min: types.Pointer(0.0), Help: "refusals: how many pushes sent this record and were refused"},
			&core.DateField{Name: "last_seen_at"},
		)
		conflicts.AddIndex("idx_sync_conflicts_stuck", false, "resolution, device, last_seen_at", "")
		if err := app.Save(conflicts); err != nil {
			return err
		}
		if _, err := app.DB().NewQuery("UPDATE " + crm.SyncConflicts + " SET count = 1, last_seen_at = created").Execute(); err != nil {
			return err
		}
		devices, err := app.FindCollectionByNameOrId(crm.SyncDevices)
		if err != nil {
			return err
		}
		devices.Fields.Add(
			&core.NumberField{Name: "refused", OnlyInt: true, Min: types.Pointer(0.0), Help: "records refused in the device's last push"},
			&core.DateField{Name: "stuck_since", Help: "since when every push of the device has had refusals; empty after a push with none"},
		)
		devices.AddIndex("idx_sync_devices_stuck", false, "stuck_since", "stuck_since != ''")
		return app.Save(devices)
	}, func(app core.App) error {
		for name, fields := range map[string][]string{crm.SyncConflicts: {"count", "last_seen_at"}, crm.SyncDevices: {"refused", "stuck_since"}} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			c.RemoveIndex("idx_sync_conflicts_stuck")
			c.RemoveIndex("idx_sync_devices_stuck")
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
