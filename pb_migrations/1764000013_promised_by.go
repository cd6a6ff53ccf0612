package pb_migrations

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
	rsync "rounds/sync"
)

// Who promised a follow-up stays in the shared history: follow_ups gains
// promised_by (the server sets it to the rep who made the promise and never
// changes it), and the customer's timeline names that rep for the promise,
// and says who holds it now after a hand-over. Before, the timeline named
// the assignee, which a hand-over moves: a promise Zoe made read as Priya's.
// Existing follow-ups take their assignee (a promise handed over before this
// migration keeps its new holder as its author: nothing recorded the first).
func init() {
	m.Register(func(app core.App) error {
		followUps, err := app.FindCollectionByNameOrId(crm.FollowUps)
		if err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId(crm.Users)
		if err != nil {
			return err
		}
		followUps.Fields.Add(&core.RelationField{Name: "promised_by", CollectionId: users.Id, MaxSelect: 1,
			Help: "the rep who made the promise; set by the server, never changed by a hand-over"})
		if err := app.Save(followUps); err != nil {
			return fmt.Errorf("follow_ups.promised_by: %w", err)
		}
		if err := rsync.InstallTriggers(app.DB(), crm.FollowUps); err != nil { // in case the table was rebuilt
			return err
		}
		if err := InstallScope(app.DB()); err != nil {
			return err
		}
		if _, err := app.DB().NewQuery("UPDATE follow_ups SET promised_by = assignee WHERE promised_by = ''").Execute(); err != nil {
			return err
		}
		timeline, err := app.FindCollectionByNameOrId(crm.CustomerTimeline)
		if err != nil {
			return err
		}
		timeline.ViewQuery = timelineQueryAuthors
		if err := app.Save(timeline); err != nil {
			return fmt.Errorf("view %s: %w", crm.CustomerTimeline, err)
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		timeline, err := app.FindCollectionByNameOrId(crm.CustomerTimeline)
		if err == nil {
			timeline.ViewQuery = timelineQuery
			if err := app.Save(timeline); err != nil {
				return err
			}
		}
		followUps, err := app.FindCollectionByNameOrId(crm.FollowUps)
		if err != nil {
			return err
		}
		followUps.Fields.RemoveByName("promised_by")
		return app.Save(followUps)
	})
}

// timelineQueryAuthors is timelineQuery with a promise's author and holder.
var timelineQueryAuthors = replaced(timelineQuery,
	`	SELECT 'f' || f.id, f.customer, f.created, 'follow_up', 'promised: ' || f.note || ' (due ' || substr(f.due_at, 1, 10) || ', ' || f.status || ')', f.assignee
	FROM follow_ups f`,
	`	SELECT 'f' || f.id, f.customer, f.created, 'follow_up', 'promised: ' || f.note || ' (due ' || substr(f.due_at, 1, 10) || ', ' || f.status ||
		CASE WHEN f.promised_by != '' AND f.promised_by != f.assignee THEN ', now held by ' || COALESCE((SELECT name FROM users WHERE id = f.assignee), 'someone') ELSE '' END || ')',
		COALESCE(NULLIF(f.promised_by, ''), f.assignee)
	FROM follow_ups f`)

// replaced is s with old replaced by new, once; old must be there (a view a
// later migration changes is derived from the earlier query, not copied).
func replaced(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic("pb_migrations: the query part to replace is not in the query once: " + old)
	}
	return strings.Replace(s, old, new, 1)
}
