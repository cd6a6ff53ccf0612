package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
	rsync "rounds/sync"
)

// The sync change log (table and capture triggers) and sync_devices, the
// admins' view of which device synced when.
func init() {
	m.Register(func(app core.App) error {
		if err := rsync.InstallCapture(app.DB()); err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId(crm.Users)
		if err != nil {
			return err
		}
		c := core.NewBaseCollection(crm.SyncDevices)
		c.Fields.Add(
			&core.RelationField{Name: "user", CollectionId: users.Id, Required: true, CascadeDelete: true, MaxSelect: 1},
			&core.TextField{Name: "device_id", Required: true, Max: 200, Presentable: true},
			&core.DateField{Name: "last_pull_at"},
			&core.DateField{Name: "last_push_at"},
			&core.DateField{Name: "last_sync_at"},
			&core.TextField{Name: "user_agent", Max: 300},
		)
		timestamps(c)
		c.AddIndex("idx_sync_devices_user_device", true, "user, device_id", "")
		return app.Save(c)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId(crm.SyncDevices); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		return rsync.DropCapture(app.DB())
	})
}
