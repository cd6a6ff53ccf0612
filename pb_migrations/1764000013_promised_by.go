package pb_migrations

import (
	"fmt"

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

// timelineQueryAuthors is timelineQuery with a promise's author.
const timelineQueryAuthors = `SELECT t.id AS id, c.id AS customer, (CAST(t.at AS TEXT)) AS at, (CAST(t.kind AS TEXT)) AS kind, (CAST(t.summary AS TEXT)) AS summary, u.id AS user
FROM customers c
JOIN (
	SELECT 'v' || v.id AS id, v.customer AS customer, COALESCE(NULLIF(v.checked_in_at, ''), NULLIF(v.planned_at, ''), v.created) AS at, 'visit' AS kind,
		TRIM(CASE WHEN v.checked_in_at != '' THEN 'visited' ELSE 'visit planned' END || ': ' || v.purpose ||
			CASE WHEN v.outcome != '' THEN ' — ' || v.outcome ELSE '' END || CASE WHEN v.notes != '' THEN ' — ' || v.notes ELSE '' END) AS summary,
		v.rep AS user
	FROM visits v
	UNION ALL
	SELECT 'f' || f.id, f.customer, f.created, 'follow_up', 'promised: ' || f.note || ' (due ' || substr(f.due_at, 1, 10) || ', ' || f.status ||
		CASE WHEN f.promised_by != '' AND f.promised_by != f.assignee THEN ', now held by ' || COALESCE((SELECT name FROM users WHERE id = f.assignee), 'someone') ELSE '' END || ')',
		COALESCE(NULLIF(f.promised_by, ''), f.assignee)
	FROM follow_ups f
	UNION ALL
	SELECT 'o' || o.id, o.customer, COALESCE(NULLIF(o.submitted_at, ''), o.created), 'order',
		'order ' || o.status || ', ' || printf('%.2f', o.total) || ' ' || o.currency || CASE WHEN o.notes != '' THEN ' — ' || o.notes ELSE '' END, o.rep
	FROM orders o
	UNION ALL
	SELECT 'h' || h.id, p.customer, h.entered_at, 'opportunity',
		p.title || ': ' || COALESCE(s.name, 'a removed stage') || ', ' || printf('%.2f', h.amount) || ' ' || p.currency, h.user
	FROM opportunity_history h JOIN opportunities p ON p.id = h.opportunity LEFT JOIN stages s ON s.id = h.stage
	UNION ALL
	SELECT 'n' || n.id, ct.customer, COALESCE(NULLIF(n.sent_at, ''), n.created), 'care_message',
		replace(n.kind, '_', ' ') || ' to ' || ct.name || ' (' || n.status || ')', ''
	FROM notifications n JOIN contacts ct ON ct.id = n.contact
	WHERE n.audience = 'customer'
	UNION ALL
	SELECT 'e' || e.id, e.customer, e.at, e.kind, e.summary, e.user
	FROM customer_events e
	UNION ALL
	SELECT 'k' || k.id, k.record_id, k.created, 'conflict', k.collection || ' ' || k.field || ': ' || k.resolution || ' (' || k.rule || ')', k.user
	FROM sync_conflicts k WHERE k.collection = 'customers'
	UNION ALL
	SELECT 'k' || k.id, v.customer, k.created, 'conflict', k.collection || ' ' || k.field || ': ' || k.resolution || ' (' || k.rule || ')', k.user
	FROM sync_conflicts k JOIN visits v ON v.id = k.record_id WHERE k.collection = 'visits'
) t ON t.customer = c.id
LEFT JOIN users u ON u.id = t.user`
