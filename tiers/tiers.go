// Package tiers is the `tiers` job: every night it computes each
// customer's revenue over the revenue window (orders confirmed or fulfilled
// in the company's main currency; other currencies do not count) and sets
// its tier from it (crm.AssignTiers), keeping the date and, on the
// customer's timeline, what it changed from and to.
package tiers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
)

// Stats says what one run did.
type Stats struct {
	Customers, Changed int
	ByTier             map[string]int
	// OtherCurrencyOrders were left out: not in the main currency
	OtherCurrencyOrders int
}

type row struct {
	ID      string  `db:"id"`
	Tier    string  `db:"tier"`
	Revenue float64 `db:"revenue_12m"`
	Cents   int64   `db:"cents"`
	Last    string  `db:"last_visit_at"`
	Created string  `db:"created"`
	Every   int     `db:"visit_every_days"`
}

// customer is a row as crm's record rules read and write it.
type customer map[string]any

func (c customer) GetString(f string) string {
	s, _ := c[f].(string)
	return s
}
func (c customer) GetFloat(f string) float64 {
	v, _ := c[f].(float64)
	return v
}
func (c customer) GetInt(f string) int { v, _ := c[f].(int); return v }
func (c customer) Set(f string, v any) { c[f] = v }

// Run computes revenue and tiers at now, in one transaction.
func Run(ctx context.Context, app core.App, now time.Time) (Stats, error) {
	st := Stats{ByTier: map[string]int{}}
	err := app.RunInTransaction(func(tx core.App) error {
		cv := crm.DefaultCoverage
		if s, err := tx.FindRecordById(crm.CompanySettings, crm.CompanySettingsID); err == nil {
			cv = crm.CoverageOf(s)
		}
		since := now.AddDate(0, -cv.RevenueMonths, 0).UTC().Format(crm.DateLayout)
		db := tx.NonconcurrentDB()
		var rows []row
		err := db.NewQuery(`SELECT c.id, c.tier, c.revenue_12m, c.last_visit_at, c.created, CAST(c.visit_every_days AS INTEGER) AS visit_every_days,
			COALESCE((SELECT SUM(CAST(ROUND(o.total * 100) AS INTEGER)) FROM orders o
				WHERE o.customer = c.id AND o.status IN ('confirmed', 'fulfilled') AND o.currency = {:cur} AND o.submitted_at >= {:since}), 0) AS cents
			FROM customers c ORDER BY c.id`).Bind(dbx.Params{"cur": cv.MainCurrency, "since": since}).WithContext(ctx).All(&rows)
		if err != nil {
			return fmt.Errorf("tiers: revenue: %w", err)
		}
		if err := db.NewQuery(`SELECT COUNT(*) FROM orders WHERE status IN ('confirmed', 'fulfilled') AND currency != {:cur} AND submitted_at >= {:since}`).
			Bind(dbx.Params{"cur": cv.MainCurrency, "since": since}).Row(&st.OtherCurrencyOrders); err != nil {
			return err
		}
		revenues := make([]crm.Revenue, len(rows))
		for i, r := range rows {
			revenues[i] = crm.Revenue{Customer: r.ID, Amount: crm.Amount(r.Cents)}
		}
		tiers := crm.AssignTiers(revenues, cv.AShare, cv.BShare)
		stamp := now.UTC().Format(crm.DateLayout)
		for _, r := range rows {
			st.Customers++
			tier := tiers[r.ID]
			st.ByTier[tier]++
			revenue := crm.Amount(r.Cents)
			if tier == r.Tier && crm.Cents(r.Revenue) == r.Cents {
				continue
			}
			if tier == r.Tier { // revenue only: not synced, no timeline
				if _, err := db.NewQuery("UPDATE customers SET revenue_12m = {:rev} WHERE id = {:id}").
					Bind(dbx.Params{"rev": revenue, "id": r.ID}).Execute(); err != nil {
					return err
				}
				continue
			}
			st.Changed++
			c := customer{"tier": tier, "last_visit_at": r.Last, "created": r.Created, "visit_every_days": r.Every}
			crm.ScheduleVisits(c, cv, now)
			if _, err := db.NewQuery(`UPDATE customers SET revenue_12m = {:rev}, tier = {:tier}, tier_changed_at = {:now},
				next_visit_due = {:due}, updated = {:now} WHERE id = {:id}`).
				Bind(dbx.Params{"rev": revenue, "tier": tier, "now": stamp, "due": c.GetString("next_visit_due"), "id": r.ID}).Execute(); err != nil {
				return err
			}
			from := r.Tier
			if from == "" {
				from = "none"
			}
			summary := fmt.Sprintf("tier %s → %s (revenue %.2f %s over %d months)", from, tier, revenue, cv.MainCurrency, cv.RevenueMonths)
			var earlier int // tier changes the customer had: a second run at the same instant (a change of settings) gets new ids
			if err := db.NewQuery("SELECT COUNT(*) FROM customer_events WHERE customer = {:c} AND kind = {:kind}").
				Bind(dbx.Params{"c": r.ID, "kind": crm.EventTierChange}).Row(&earlier); err != nil {
				return err
			}
			if _, err := db.NewQuery(`INSERT INTO customer_events (id, customer, at, kind, summary, user, created, updated)
				VALUES ({:id}, {:c}, {:now}, {:kind}, {:s}, '', {:now}, {:now})`).
				Bind(dbx.Params{"id": eventID(r.ID, stamp, earlier), "c": r.ID, "now": stamp, "kind": crm.EventTierChange, "s": summary}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// eventID is the id of a customer's nth tier change: the same run on the
// same data makes the same ids.
func eventID(customer, at string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("tier|%s|%s|%d", customer, at, n)))
	return "t" + hex.EncodeToString(sum[:])[:14]
}
