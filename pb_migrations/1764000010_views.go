package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Views for the dashboard (read-only; access from the policy): customers
// due or overdue for a visit, one timeline per customer, and each rep's
// activity per week.
const (
	visitsDueQuery = `SELECT c.id AS id, c.id AS customer, c.owner AS owner, c.tier AS tier,
	c.last_visit_at AS last_visit_at, c.next_visit_due AS next_visit_due,
	(CAST(MAX(0, julianday('now') - julianday(c.next_visit_due)) AS INTEGER)) AS days_overdue
FROM customers c
WHERE c.next_visit_due != '' AND c.next_visit_due < strftime('%Y-%m-%d %H:%M:%fZ', 'now', '+1 day')`

	// one row per event of a customer: the union sits in a subquery joined
	// to customers (PocketBase's view parser takes one select list; the
	// join makes customer and user relations, which the policy's rules
	// follow)
	// per rep and week (the Monday, UTC): what they planned and did
	activityQuery = `SELECT (u.id || ':' || a.week) AS id, u.id AS rep, (CAST(a.week AS TEXT)) AS week,
	(CAST(SUM(a.planned) AS INTEGER)) AS visits_planned,
	(CAST(SUM(a.done) AS INTEGER)) AS visits_done,
	(CAST(ROUND(100.0 * SUM(a.verified) / MAX(1, SUM(a.done))) AS INTEGER)) AS verified_pct,
	(CAST(ROUND(SUM(a.minutes)) AS INTEGER)) AS minutes_on_site,
	(CAST(SUM(a.productive) AS INTEGER)) AS productive_visits,
	(CAST(SUM(a.orders) AS INTEGER)) AS orders,
	(CAST(ROUND(SUM(a.revenue), 2) AS REAL)) AS revenue,
	(CAST(SUM(a.fu_done) AS INTEGER)) AS follow_ups_done,
	(CAST(SUM(a.fu_overdue) AS INTEGER)) AS follow_ups_overdue,
	(CAST(COUNT(DISTINCT a.a_due) AS INTEGER)) AS a_customers_due,
	(CAST(COUNT(DISTINCT a.a_visited) AS INTEGER)) AS a_customers_visited
FROM users u
JOIN (
	SELECT v.rep AS rep, date(v.planned_at, '-6 days', 'weekday 1') AS week, 1 AS planned, 0 AS done, 0 AS verified, 0 AS minutes,
		0 AS productive, 0 AS orders, 0 AS revenue, 0 AS fu_done, 0 AS fu_overdue, NULL AS a_due, NULL AS a_visited
	FROM visits v WHERE v.planned_at != ''
	UNION ALL
	SELECT v.rep, date(v.checked_in_at, '-6 days', 'weekday 1'), 0, 1, v.geo_status = 'verified',
		CASE WHEN v.checked_out_at > v.checked_in_at THEN (julianday(v.checked_out_at) - julianday(v.checked_in_at)) * 1440 ELSE 0 END,
		EXISTS (SELECT 1 FROM orders o WHERE o.visit = v.id AND o.status != 'cancelled'), 0, 0, 0, 0, NULL,
		CASE WHEN c.tier = 'A' THEN c.id END
	FROM visits v JOIN customers c ON c.id = v.customer WHERE v.checked_in_at != ''
	UNION ALL
	SELECT o.rep, date(o.submitted_at, '-6 days', 'weekday 1'), 0, 0, 0, 0, 0, 1,
		CASE WHEN o.status IN ('confirmed', 'fulfilled') THEN o.total ELSE 0 END, 0, 0, NULL, NULL
	FROM orders o WHERE o.submitted_at != '' AND o.status != 'cancelled'
	UNION ALL
	SELECT f.assignee, date(f.updated, '-6 days', 'weekday 1'), 0, 0, 0, 0, 0, 0, 0, 1, 0, NULL, NULL
	FROM follow_ups f WHERE f.status = 'done'
	UNION ALL
	SELECT f.assignee, date(f.due_at, '-6 days', 'weekday 1'), 0, 0, 0, 0, 0, 0, 0, 0, 1, NULL, NULL
	FROM follow_ups f WHERE f.status = 'open' AND f.due_at < strftime('%Y-%m-%d %H:%M:%fZ', 'now')
	UNION ALL
	SELECT c.owner, date(c.next_visit_due, '-6 days', 'weekday 1'), 0, 0, 0, 0, 0, 0, 0, 0, 0, c.id, NULL
	FROM customers c WHERE c.tier = 'A' AND c.next_visit_due != ''
) a ON a.rep = u.id
GROUP BY u.id, a.week`

	timelineQuery = `SELECT t.id AS id, c.id AS customer, (CAST(t.at AS TEXT)) AS at, (CAST(t.kind AS TEXT)) AS kind, (CAST(t.summary AS TEXT)) AS summary, u.id AS user
FROM customers c
JOIN (
	SELECT 'v' || v.id AS id, v.customer AS customer, COALESCE(NULLIF(v.checked_in_at, ''), NULLIF(v.planned_at, ''), v.created) AS at, 'visit' AS kind,
		TRIM(CASE WHEN v.checked_in_at != '' THEN 'visited' ELSE 'visit planned' END || ': ' || v.purpose ||
			CASE WHEN v.outcome != '' THEN ' — ' || v.outcome ELSE '' END || CASE WHEN v.notes != '' THEN ' — ' || v.notes ELSE '' END) AS summary,
		v.rep AS user
	FROM visits v
	UNION ALL
	SELECT 'f' || f.id, f.customer, f.created, 'follow_up', 'promised: ' || f.note || ' (due ' || substr(f.due_at, 1, 10) || ', ' || f.status || ')', f.assignee
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
)

func init() {
	m.Register(func(app core.App) error {
		for name, query := range map[string]string{crm.VisitsDue: visitsDueQuery, crm.CustomerTimeline: timelineQuery, crm.RepActivity: activityQuery} {
			c := core.NewViewCollection(name)
			c.ViewQuery = query
			if err := app.Save(c); err != nil {
				return fmt.Errorf("view %s: %w", name, err)
			}
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		for _, name := range []string{crm.RepActivity, crm.CustomerTimeline, crm.VisitsDue} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
