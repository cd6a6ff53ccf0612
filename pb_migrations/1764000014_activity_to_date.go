package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// rep_activity gains visits_planned_to_date: the week's visits planned up to
// now. Comparing visits done with every visit planned for the week made a
// rep look behind on a Thursday for the visits planned on Friday; the
// managers' page compares done with planned to date and shows the rest as
// planned, not missed.
func init() {
	m.Register(func(app core.App) error {
		return setActivityQuery(app, activityQueryToDate)
	}, func(app core.App) error {
		return setActivityQuery(app, activityQuery)
	})
}

const plannedLine = `AS visits_planned,
`

var activityQueryToDate = replaced(activityQuery, plannedLine, plannedLine+
	`	(CAST((SELECT COUNT(*) FROM visits v WHERE v.rep = u.id AND v.planned_at >= w.start AND v.planned_at < w.stop
		AND v.planned_at < strftime('%Y-%m-%d %H:%M:%fZ', 'now')) AS INTEGER)) AS visits_planned_to_date,
`)

func setActivityQuery(app core.App, query string) error {
	c, err := app.FindCollectionByNameOrId(crm.RepActivity)
	if err != nil {
		return err
	}
	c.ViewQuery = query
	if err := app.Save(c); err != nil {
		return fmt.Errorf("view %s: %w", crm.RepActivity, err)
	}
	return ApplyPolicy(app)
}
