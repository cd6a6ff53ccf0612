package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// stuck_devices: the phones whose every push since stuck_since has had
// refusals, one row per device, with the rep, how many records its last
// push had refused and the latest reason (from sync_conflicts), so that an
// admin finds them in one click instead of a hand-typed filter on
// sync_devices and a second search in sync_conflicts. Admins only (the
// policy); the rep hears of it in the morning digest, which reads it too.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewViewCollection(crm.StuckDevices)
		c.ViewQuery = stuckDevicesQuery
		if err := app.Save(c); err != nil {
			return fmt.Errorf("view %s: %w", crm.StuckDevices, err)
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(crm.StuckDevices)
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}

// (the columns in the order the dashboard shows them: the reason before the
// details, so that it is on screen without scrolling)
const stuckDevicesQuery = `SELECT d.id AS id, d.user AS rep, d.device_id AS device, d.stuck_since AS stuck_since,
	CAST(d.refused AS INTEGER) AS refused,
	CAST(COALESCE((SELECT c.collection || ' ' || c.record_id || ': ' || c.rule FROM sync_conflicts c
		WHERE c.user = d.user AND c.device = d.device_id AND c.resolution = 'rejected'
		ORDER BY c.last_seen_at DESC, c.id DESC LIMIT 1), '') AS TEXT) AS latest_reason,
	d.user_agent AS user_agent, d.last_push_at AS last_push_at
	FROM sync_devices d WHERE d.stuck_since != ''`
