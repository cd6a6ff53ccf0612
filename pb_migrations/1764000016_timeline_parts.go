package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// customer_timeline gains its parts, so that a page writes each event in
// the reader's own formats instead of the server's text: title (what the
// visit was for, the promise, the deal, the contact greeted), detail (the
// outcome and notes, the stage, the kind of greeting, the conflict's rule),
// status, amount and currency, due (a promise's date) and holder (who holds
// a promise now; user stays who made it). summary is kept, as before, for
// the dashboard and older pages.
func init() {
	m.Register(func(app core.App) error {
		return setTimelineQuery(app, timelineQueryParts)
	}, func(app core.App) error {
		return setTimelineQuery(app, timelineQueryAuthors)
	})
}

func setTimelineQuery(app core.App, query string) error {
	c, err := app.FindCollectionByNameOrId(crm.CustomerTimeline)
	if err != nil {
		return err
	}
	c.ViewQuery = query
	if err := app.Save(c); err != nil {
		return fmt.Errorf("view %s: %w", crm.CustomerTimeline, err)
	}
	return ApplyPolicy(app)
}

const timelineQueryParts = `SELECT t.id AS id, c.id AS customer, CAST(t.at AS TEXT) AS at, CAST(t.kind AS TEXT) AS kind,
	CAST(t.summary AS TEXT) AS summary, u.id AS user, hu.id AS holder,
	CAST(COALESCE(t.title, '') AS TEXT) AS title, CAST(COALESCE(t.detail, '') AS TEXT) AS detail,
	CAST(COALESCE(t.status, '') AS TEXT) AS status, CAST(COALESCE(t.amount, 0) AS REAL) AS amount,
	CAST(COALESCE(t.currency, '') AS TEXT) AS currency, CAST(COALESCE(t.due, '') AS TEXT) AS due
FROM customers c
JOIN (
	SELECT 'v' || v.id AS id, v.customer AS customer, COALESCE(NULLIF(v.checked_in_at, ''), NULLIF(v.planned_at, ''), v.created) AS at, 'visit' AS kind,
		TRIM(CASE WHEN v.checked_in_at != '' THEN 'visited' ELSE 'visit planned' END ||
			CASE WHEN v.purpose != '' THEN ': ' || v.purpose ELSE '' END ||
			CASE WHEN v.outcome != '' THEN ' — ' || v.outcome ELSE '' END || CASE WHEN v.notes != '' THEN ' — ' || v.notes ELSE '' END) AS summary,
		v.rep AS user, '' AS holder, v.purpose AS title,
		TRIM(v.outcome || CASE WHEN v.outcome != '' AND v.notes != '' THEN ' — ' ELSE '' END || v.notes) AS detail,
		CASE WHEN v.checked_in_at != '' THEN 'done' ELSE 'planned' END AS status, 0 AS amount, '' AS currency, '' AS due
	FROM visits v
	UNION ALL
	SELECT 'f' || f.id, f.customer, f.created, 'follow_up', 'promised: ' || f.note || ' (due ' || substr(f.due_at, 1, 10) || ', ' || f.status ||
		CASE WHEN f.promised_by != '' AND f.promised_by != f.assignee THEN ', now held by ' || COALESCE((SELECT name FROM users WHERE id = f.assignee), 'someone') ELSE '' END || ')',
		COALESCE(NULLIF(f.promised_by, ''), f.assignee), f.assignee, f.note, '', f.status, 0, '', f.due_at
	FROM follow_ups f
	UNION ALL
	SELECT 'o' || o.id, o.customer, COALESCE(NULLIF(o.submitted_at, ''), o.created), 'order',
		'order ' || o.status || ', ' || printf('%.2f', o.total) || ' ' || o.currency || CASE WHEN o.notes != '' THEN ' — ' || o.notes ELSE '' END, o.rep,
		'', '', o.notes, o.status, o.total, o.currency, ''
	FROM orders o
	UNION ALL
	SELECT 'h' || h.id, p.customer, h.entered_at, 'opportunity',
		p.title || ': ' || COALESCE(s.name, 'a removed stage') || ', ' || printf('%.2f', h.amount) || ' ' || p.currency, h.user,
		'', p.title, COALESCE(s.name, 'a removed stage'), COALESCE(s.outcome, ''), h.amount, p.currency, ''
	FROM opportunity_history h JOIN opportunities p ON p.id = h.opportunity LEFT JOIN stages s ON s.id = h.stage
	UNION ALL
	SELECT 'n' || n.id, ct.customer, COALESCE(NULLIF(n.sent_at, ''), n.created), 'care_message',
		replace(n.kind, '_', ' ') || ' to ' || ct.name || ' (' || n.status || ')', '',
		'', ct.name, replace(n.kind, '_', ' '), n.status, 0, '', ''
	FROM notifications n JOIN contacts ct ON ct.id = n.contact
	WHERE n.audience = 'customer'
	UNION ALL
	SELECT 'e' || e.id, e.customer, e.at, e.kind, e.summary, e.user, '', e.summary, '', '', 0, '', ''
	FROM customer_events e
	UNION ALL
	SELECT 'k' || k.id, k.record_id, k.created, 'conflict', k.collection || ' ' || k.field || ': ' || k.resolution || ' (' || k.rule || ')', k.user,
		'', k.field, k.rule, k.resolution, 0, '', ''
	FROM sync_conflicts k WHERE k.collection = 'customers'
	UNION ALL
	SELECT 'k' || k.id, v.customer, k.created, 'conflict', k.collection || ' ' || k.field || ': ' || k.resolution || ' (' || k.rule || ')', k.user,
		'', k.field, k.rule, k.resolution, 0, '', ''
	FROM sync_conflicts k JOIN visits v ON v.id = k.record_id WHERE k.collection = 'visits'
) t ON t.customer = c.id
LEFT JOIN users u ON u.id = t.user
LEFT JOIN users hu ON hu.id = t.holder`
