package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	rsync "rounds/sync"
)

// Each change in the log carries its scope (owner: the rep who owned the
// record's customer when it changed), in an (owner, seq) index, so that an
// incremental pull reads its rep's own feed (issue 26). A log made before
// gets the column, each change its customer's owner now, and the triggers
// that fill it.
func init() {
	m.Register(func(app core.App) error {
		return rsync.InstallCapture(app.DB())
	}, func(app core.App) error {
		return nil // the column and its index are harmless to the pulls before
	})
}
