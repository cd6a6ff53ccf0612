package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	rsync "rounds/sync"
)

// The update capture triggers are split: an update that changes a data
// column logs one row with a plain INSERT, and a move to another customer
// (or owner) has its own trigger. The change log is unchanged; this only
// reinstalls the triggers of a database made before.
func init() {
	m.Register(func(app core.App) error {
		return rsync.InstallCapture(app.DB())
	}, func(app core.App) error {
		return nil // the split triggers log the same rows as the ones before
	})
}
