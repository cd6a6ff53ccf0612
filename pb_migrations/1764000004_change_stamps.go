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
		// Down keeps the stamp column and these triggers: dropping a column
		// rebuilds the change log, and rows of either kind (at set, or only
		// a stamp) read correctly with this code.
		return nil
	})
}
