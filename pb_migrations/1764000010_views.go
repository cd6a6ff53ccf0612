package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Views for the dashboard (read-only; access from the policy): customers
// due or overdue for a visit.
const (
	visitsDueQuery = `SELECT c.id AS id, c.id AS customer, c.owner AS owner, c.tier AS tier,
	c.last_visit_at AS last_visit_at, c.next_visit_due AS next_visit_due,
	(CAST(MAX(0, julianday('now') - julianday(c.next_visit_due)) AS INTEGER)) AS days_overdue
FROM customers c
WHERE c.next_visit_due != '' AND c.next_visit_due < strftime('%Y-%m-%d %H:%M:%fZ', 'now', '+1 day')`
)

func init() {
	m.Register(func(app core.App) error {
		for name, query := range map[string]string{crm.VisitsDue: visitsDueQuery} {
			c := core.NewViewCollection(name)
			c.ViewQuery = query
			if err := app.Save(c); err != nil {
				return fmt.Errorf("view %s: %w", name, err)
			}
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		for _, name := range []string{crm.VisitsDue} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
