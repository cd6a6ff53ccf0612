package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	rsync "rounds/sync"
)

// The capture triggers write the change log with INSERT OR FAIL, so that a
// DELETE (which has no conflict clause of its own to pass down) no longer
// makes SQLite keep a statement journal for the change row it logs: that
// journal was half the cost of a delete (issue 26). The rows logged are
// the same; this only reinstalls the triggers of a database made before.
func init() {
	m.Register(func(app core.App) error {
		return rsync.InstallCapture(app.DB())
	}, func(app core.App) error {
		return nil // the triggers before logged the same rows
	})
}
