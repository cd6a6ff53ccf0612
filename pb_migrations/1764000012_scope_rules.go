package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The read rules of records with scope columns read no field of the
// caller's record (no join: SQLite then searches the indexes rather than
// walking the table in id order), and scope_team names only managers, so
// the triggers are installed again with the role kept in mind.
func init() {
	m.Register(func(app core.App) error {
		if err := ResumeScope(app.DB()); err != nil {
			return err
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		return nil // the rules of 1764000011 are not restored: these are the policy's
	})
}
