package seed

import (
	"fmt"
	"math"
	"time"

	"github.com/pocketbase/dbx"

	"rounds/crm"
)

type stage struct {
	ID      string  `db:"id"`
	Name    string  `db:"name"`
	WinRate float64 `db:"win_rate"`
	MaxDays int     `db:"max_days"`
	Outcome string  `db:"outcome"`
}

// loadStages reads the funnel's stages (a migration created them).
func (g *generator) loadStages() error {
	if err := g.app.DB().NewQuery("SELECT id, name, win_rate, max_days, outcome FROM " + crm.Stages + " ORDER BY position").All(&g.stages); err != nil {
		return fmt.Errorf("seed: stages: %w", err)
	}
	return nil
}

var dealTitles = []string{"Spring range listing", "Shelf extension", "Coffee corner", "Seasonal display", "Loyalty bundle",
	"Second shop opening", "Private label trial", "Catering contract", "Holiday hampers", "Price agreement 2027"}

var lostReasons = []string{"price", "chose a competitor", "no budget this year", "shop closing"}

// opportunities adds the customer's deals: open ones at every stage (some
// stalled, some past their expected close), won and lost ones, each with
// the history of the stages it went through.
func (g *generator) opportunities(b *batch, customer, owner string, loc *time.Location) error {
	rng := g.funnel
	var open, won, lost []stage
	for _, s := range g.stages {
		switch s.Outcome {
		case crm.OutcomeWon:
			won = append(won, s)
		case crm.OutcomeLost:
			lost = append(lost, s)
		default:
			open = append(open, s)
		}
	}
	if len(open) == 0 {
		return nil
	}
	n := 0
	if g.opts.OpportunitiesPerCustomer > 0 {
		n = rng.IntN(2*g.opts.OpportunitiesPerCustomer + 1)
	}
	for k := 0; k < n; k++ {
		id := g.funnelID()
		// the stages it went through: the open ones up to where it is, then won or lost
		reached := 1 + rng.IntN(len(open))
		path := append([]stage(nil), open[:reached]...)
		switch roll := rng.IntN(10); {
		case roll < 2 && len(won) > 0:
			path = append(path, won[0])
		case roll < 3 && len(lost) > 0:
			path = append(path, lost[0])
		}
		last := path[len(path)-1]
		// time in each stage: days, stalled now and then
		at := g.day(-10 - rng.IntN(120))
		created := at
		type step struct {
			s      stage
			in, to time.Time
		}
		var steps []step
		for i, s := range path {
			days := 3 + rng.IntN(15)
			if i == len(path)-1 {
				days = 0
			}
			steps = append(steps, step{s: s, in: g.past(at), to: g.past(at.AddDate(0, 0, days))}) // nothing in the future
			at = at.AddDate(0, 0, days)
		}
		entered := steps[len(steps)-1].in
		if last.Outcome == crm.OutcomeOpen && rng.IntN(4) > 0 && entered.Before(g.day(-1)) {
			// most open deals moved recently; a quarter sit where they are (stalled when past max_days)
			entered = g.day(-rng.IntN(10))
			steps[len(steps)-1].in = entered
			if len(steps) > 1 {
				steps[len(steps)-2].to = entered
			}
		}
		amount := float64(5+rng.IntN(400)) * 50
		closeDay := g.day(-15 + rng.IntN(100))
		closedAt, reason := "", ""
		if last.Outcome != crm.OutcomeOpen {
			closedAt = ts(entered)
			closeDay = entered
			if last.Outcome == crm.OutcomeLost {
				reason = lostReasons[rng.IntN(len(lostReasons))]
			}
		}
		expected := time.Date(closeDay.Year(), closeDay.Month(), closeDay.Day(), 12, 0, 0, 0, loc)
		err := b.add(crm.Opportunities, dbx.Params{
			"id": id, "customer": customer, "owner": owner, "title": dealTitles[rng.IntN(len(dealTitles))],
			"amount": amount, "currency": "EUR", "stage": last.ID, "expected_close": ts(expected),
			"probability": last.WinRate, "weighted_amount": crm.Weighted(amount, last.WinRate),
			"stage_entered_at": ts(entered), "closed_at": closedAt, "lost_reason": reason,
			"notes": "", "changed_by": owner, "created": ts(created), "updated": ts(entered),
		})
		if err != nil {
			return err
		}
		for i, st := range steps {
			left := ""
			if i < len(steps)-1 {
				left = ts(st.to)
			}
			err := b.add(crm.OpportunityHistory, dbx.Params{
				"id": g.funnelID(), "opportunity": id, "stage": st.s.ID, "amount": amount, "expected_close": ts(expected),
				"entered_at": ts(st.in), "left_at": left, "user": owner, "created": ts(st.in), "updated": ts(st.in),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// funnelID is id from the funnel's own stream.
func (g *generator) funnelID() string { return idFrom(g.funnel) }

// customerSize is how many times an ordinary customer's quantities a
// customer orders: Pareto-distributed (alpha 1.16, the 80/20 rule), 1 to 40.
func (g *generator) customerSize() int64 {
	u := 1 - g.funnel.Float64() // (0, 1]
	return int64(min(40, math.Floor(math.Pow(u, -1/1.16))))
}
