package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	rsync "rounds/sync"
)

// Change-log rows take their time from the record's `updated` (the stamp
// column) instead of calling julianday('now') in the triggers: no SQL
// function in a trigger means no statement journal for the writes that
// fire it. Existing rows keep their `at`.
func init() {
	m.Register(func(app core.App) error {
		if err := rsync.StampColumn(app.DB()); err != nil {
			return err
		}
		return rsync.InstallCapture(app.DB())
	}, func(app core.App) error {
		// the stamp column stays (older code ignores it) and so do the
		// triggers that fill it: the previous triggers would give new
		// rows both a time and an empty stamp, which this code also reads
		return nil
	})
}
