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
	// per rep and week (the Monday, UTC; the last 53 weeks): what they
	// planned and did. Each figure is its own indexed count for one rep
	// and week, so a filter on the rep (the policy's rule, or rep = ...)
	// narrows the work to that rep's weeks; an aggregate over a union of
	// every table was right but scanned them all (BENCHMARKS.md)
	activityQuery = `SELECT (u.id || ':' || w.week) AS id, u.id AS rep, (CAST(w.week AS TEXT)) AS week,
	(CAST((SELECT COUNT(*) FROM visits v WHERE v.rep = u.id AND v.planned_at >= w.start AND v.planned_at < w.stop) AS INTEGER)) AS visits_planned,
	(CAST((SELECT COUNT(*) FROM visits v WHERE v.rep = u.id AND v.checked_in_at >= w.start AND v.checked_in_at < w.stop) AS INTEGER)) AS visits_done,
	(CAST((SELECT ROUND(100.0 * SUM(v.geo_status = 'verified') / MAX(1, COUNT(*))) FROM visits v
		WHERE v.rep = u.id AND v.checked_in_at >= w.start AND v.checked_in_at < w.stop) AS INTEGER)) AS verified_pct,
	(CAST((SELECT ROUND(COALESCE(SUM(CASE WHEN v.checked_out_at > v.checked_in_at THEN (julianday(v.checked_out_at) - julianday(v.checked_in_at)) * 1440 ELSE 0 END), 0))
		FROM visits v WHERE v.rep = u.id AND v.checked_in_at >= w.start AND v.checked_in_at < w.stop) AS INTEGER)) AS minutes_on_site,
	(CAST((SELECT COUNT(*) FROM visits v WHERE v.rep = u.id AND v.checked_in_at >= w.start AND v.checked_in_at < w.stop
		AND EXISTS (SELECT 1 FROM orders o WHERE o.visit = v.id AND o.status != 'cancelled')) AS INTEGER)) AS productive_visits,
	(CAST((SELECT COUNT(*) FROM orders o WHERE o.rep = u.id AND o.submitted_at >= w.start AND o.submitted_at < w.stop AND o.status != 'cancelled') AS INTEGER)) AS orders,
	(CAST((SELECT ROUND(COALESCE(SUM(o.total), 0), 2) FROM orders o WHERE o.rep = u.id AND o.submitted_at >= w.start AND o.submitted_at < w.stop
		AND o.status IN ('confirmed', 'fulfilled')) AS REAL)) AS revenue,
	(CAST((SELECT COUNT(*) FROM follow_ups f WHERE f.assignee = u.id AND f.status = 'done' AND f.updated >= w.start AND f.updated < w.stop) AS INTEGER)) AS follow_ups_done,
	(CAST((SELECT COUNT(*) FROM follow_ups f WHERE f.assignee = u.id AND f.status = 'open' AND f.due_at >= w.start AND f.due_at < w.stop
		AND f.due_at < strftime('%Y-%m-%d %H:%M:%fZ', 'now')) AS INTEGER)) AS follow_ups_overdue,
	(CAST((SELECT COUNT(*) FROM customers c WHERE c.owner = u.id AND c.tier = 'A' AND c.next_visit_due >= w.start AND c.next_visit_due < w.stop) AS INTEGER)) AS a_customers_due,
	(CAST((SELECT COUNT(DISTINCT v.customer) FROM visits v JOIN customers c ON c.id = v.customer
		WHERE v.rep = u.id AND c.tier = 'A' AND v.checked_in_at >= w.start AND v.checked_in_at < w.stop) AS INTEGER)) AS a_customers_visited
FROM users u
JOIN (
	WITH RECURSIVE weeks(week, n) AS (
		SELECT date('now', '-6 days', 'weekday 1'), 0
		UNION ALL
		SELECT date(week, '-7 days'), n + 1 FROM weeks WHERE n < 52
	)
	SELECT week, strftime('%Y-%m-%d %H:%M:%fZ', week) AS start, strftime('%Y-%m-%d %H:%M:%fZ', week, '+7 days') AS stop FROM weeks
) w
WHERE u.role = 'rep'`

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

// activityIndexes serve rep_activity's counts: a rep's visits by check-in,
// orders by submission, follow-ups done by when.
var activityIndexes = []struct{ collection, name, columns, where string }{
	{crm.Visits, "idx_visits_rep_checked_in", "rep, checked_in_at", ""},
	{crm.Orders, "idx_orders_rep_submitted", "rep, submitted_at", ""},
	{crm.FollowUps, "idx_follow_ups_done", "assignee, updated", "status = 'done'"},
}

func init() {
	m.Register(func(app core.App) error {
		for _, ix := range activityIndexes {
			c, err := app.FindCollectionByNameOrId(ix.collection)
			if err != nil {
				return err
			}
			c.AddIndex(ix.name, false, ix.columns, ix.where)
			if err := app.Save(c); err != nil {
				return err
			}
		}
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
		for _, ix := range activityIndexes {
			if c, err := app.FindCollectionByNameOrId(ix.collection); err == nil {
				c.RemoveIndex(ix.name)
				if err := app.Save(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
