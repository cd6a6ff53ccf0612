package crm

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// The sales funnel: every opportunity sits in a stage, each stage has a win
// rate, and the forecast of a period is closed revenue + Σ amount × win rate
// of the open opportunities expected to close in it.

// Collections of the funnel.
const (
	Stages             = "stages"
	Opportunities      = "opportunities"
	OpportunityHistory = "opportunity_history"
)

// Stage outcomes: a deal in an open stage is in the funnel; won and lost
// stages close it.
const (
	OutcomeOpen = "open"
	OutcomeWon  = "won"
	OutcomeLost = "lost"
)

// Outcomes lists the stage outcomes.
var Outcomes = []string{OutcomeOpen, OutcomeWon, OutcomeLost}

// StageDefault is one stage a fresh database starts with.
type StageDefault struct {
	ID       string // the same in every database
	Name     string
	Position int
	WinRate  float64 // percent
	MaxDays  int     // a deal longer in the stage is stalled; 0: never
	Outcome  string
}

// DefaultStages are the stages a migration creates.
var DefaultStages = []StageDefault{
	{"stageprospectin", "Prospecting", 1, 10, 30, OutcomeOpen},
	{"stagequalificat", "Qualification", 2, 20, 30, OutcomeOpen},
	{"stageproposal00", "Proposal", 3, 50, 21, OutcomeOpen},
	{"stagenegotiatio", "Negotiation", 4, 80, 14, OutcomeOpen},
	{"stagewon0000000", "Won", 5, 100, 0, OutcomeWon},
	{"stagelost000000", "Lost", 6, 0, 0, OutcomeLost},
}

// Weighted is amount × win rate (percent), rounded to the cent.
func Weighted(amount, winRate float64) float64 {
	return Amount(int64(math.Round(float64(Cents(amount)) * winRate / 100)))
}

// Stalled reports whether a deal that entered its stage at entered has
// been in it longer than maxDays at now (maxDays 0: never stalled).
func Stalled(entered, now time.Time, maxDays int) bool {
	return maxDays > 0 && !entered.IsZero() && now.Sub(entered) > time.Duration(maxDays)*24*time.Hour
}

// DaysIn is how long, in days, a deal has been in its stage.
func DaysIn(entered, now time.Time) float64 {
	if entered.IsZero() || now.Before(entered) {
		return 0
	}
	return now.Sub(entered).Hours() / 24
}

// PrepareOpportunity applies the funnel's rules to an opportunity before it
// is saved (orig is the stored version, nil for a new one): the owner
// defaults to the customer's; probability and weighted_amount come from
// the stage; entering a stage stamps stage_entered_at; entering a won or
// lost stage stamps closed_at, reopening clears it; a lost deal needs a
// reason; the order it closes is the customer's. It reports whether the
// change opens a new line of the deal's history (a new deal, or a change of
// stage, amount or expected close).
func PrepareOpportunity(find Finder, r Record, orig Stored, now time.Time) (history bool, err error) {
	if _, err := ownerDefault(find, r, "owner"); err != nil {
		return false, err
	}
	stage, err := find(Stages, r.GetString("stage"))
	if err != nil {
		return false, err
	}
	if stage == nil {
		return false, fieldError("stage", "unknown_stage", "stage %q does not exist", r.GetString("stage"))
	}
	if r.GetFloat("amount") < 0 {
		return false, fieldError("amount", "negative_amount", "an amount cannot be negative")
	}
	rate := stage.GetFloat("win_rate")
	r.Set("probability", rate)
	r.Set("weighted_amount", Weighted(r.GetFloat("amount"), rate))
	moved := orig == nil || orig.GetString("stage") != r.GetString("stage")
	if moved || r.GetString("stage_entered_at") == "" {
		r.Set("stage_entered_at", now.UTC())
	}
	switch stage.GetString("outcome") {
	case OutcomeLost:
		if r.GetString("lost_reason") == "" {
			return false, fieldError("lost_reason", "lost_reason_required", "a lost deal needs a lost_reason")
		}
		fallthrough
	case OutcomeWon:
		if moved || r.GetString("closed_at") == "" {
			r.Set("closed_at", now.UTC())
		}
	default:
		r.Set("closed_at", "")
	}
	history = moved || orig.GetFloat("amount") != r.GetFloat("amount") ||
		orig.GetString("expected_close") != r.GetString("expected_close")
	return history, nil
}

// Period is a reporting period: from its first day 00:00 to the day after
// its last, 00:00, in loc.
type Period struct {
	From, To   string    // YYYY-MM-DD, as asked
	Start, End time.Time // [Start, End)
}

// ParsePeriod reads from and to (YYYY-MM-DD, inclusive) in loc; a period
// runs forward and spans at most five years.
func ParsePeriod(from, to string, loc *time.Location) (Period, error) {
	start, err := time.ParseInLocation(time.DateOnly, from, loc)
	if err != nil {
		return Period{}, fmt.Errorf("from must be a date YYYY-MM-DD, got %q", clipText(from))
	}
	last, err := time.ParseInLocation(time.DateOnly, to, loc)
	if err != nil {
		return Period{}, fmt.Errorf("to must be a date YYYY-MM-DD, got %q", clipText(to))
	}
	if last.Before(start) {
		return Period{}, fmt.Errorf("to (%s) is before from (%s)", to, from)
	}
	end := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc)
	if end.Sub(start) > 5*366*24*time.Hour {
		return Period{}, fmt.Errorf("a period spans at most five years")
	}
	return Period{From: from, To: to, Start: start, End: end}, nil
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ClosedRow is closed revenue: the confirmed or fulfilled orders of one rep
// in one currency submitted in the period.
type ClosedRow struct {
	Rep, Currency string
	Total         float64
}

// OpenDeal is an open opportunity expected to close in the period.
type OpenDeal struct {
	Rep, Currency, Stage string
	Amount, WinRate      float64
	Entered              time.Time
	MaxDays              int
}

// StageRef names a stage.
type StageRef struct{ ID, Name string }

// StageFigures are a stage's figures in one currency.
type StageFigures struct {
	Stage          string  `json:"stage"`
	Name           string  `json:"name"`
	Count          int     `json:"count"`
	Amount         float64 `json:"amount"`
	Weighted       float64 `json:"weighted"`
	AvgDaysInStage float64 `json:"avg_days_in_stage"`
	Stalled        int     `json:"stalled"`
}

// RepFigures are a rep's figures in one currency.
type RepFigures struct {
	Rep      string  `json:"rep"`
	Closed   float64 `json:"closed"`
	Weighted float64 `json:"weighted"`
	Forecast float64 `json:"forecast"`
}

// CurrencyForecast is the forecast in one currency.
type CurrencyForecast struct {
	Currency string         `json:"currency"`
	Closed   float64        `json:"closed"`
	Weighted float64        `json:"weighted"`
	Forecast float64        `json:"forecast"`
	ByRep    []RepFigures   `json:"by_rep"`
	ByStage  []StageFigures `json:"by_stage"`
}

// Forecast sums closed revenue and weighted open deals per currency, per
// rep and per stage (stages in the order given; OpenDeal.Stage is a stage
// id), in cents; currencies sorted, reps sorted.
func Forecast(closed []ClosedRow, open []OpenDeal, stageOrder []StageRef, now time.Time) []CurrencyForecast {
	type repSum struct{ closed, weighted int64 }
	type stageSum struct {
		count            int
		amount, weighted int64
		days             float64
		stalled          int
	}
	reps := map[string]map[string]*repSum{}
	stages := map[string]map[string]*stageSum{}
	rep := func(cur, id string) *repSum {
		if reps[cur] == nil {
			reps[cur] = map[string]*repSum{}
		}
		if reps[cur][id] == nil {
			reps[cur][id] = &repSum{}
		}
		return reps[cur][id]
	}
	for _, c := range closed {
		rep(c.Currency, c.Rep).closed += Cents(c.Total)
	}
	for _, d := range open {
		w := Cents(Weighted(d.Amount, d.WinRate))
		rep(d.Currency, d.Rep).weighted += w
		if stages[d.Currency] == nil {
			stages[d.Currency] = map[string]*stageSum{}
		}
		s := stages[d.Currency][d.Stage]
		if s == nil {
			s = &stageSum{}
			stages[d.Currency][d.Stage] = s
		}
		s.count++
		s.amount += Cents(d.Amount)
		s.weighted += w
		s.days += DaysIn(d.Entered, now)
		if Stalled(d.Entered, now, d.MaxDays) {
			s.stalled++
		}
	}
	var out []CurrencyForecast
	for _, cur := range sortedKeys(reps) {
		f := CurrencyForecast{Currency: cur, ByRep: []RepFigures{}, ByStage: []StageFigures{}}
		var closedC, weightedC int64
		for _, id := range sortedKeys(reps[cur]) {
			r := reps[cur][id]
			closedC += r.closed
			weightedC += r.weighted
			f.ByRep = append(f.ByRep, RepFigures{Rep: id, Closed: Amount(r.closed), Weighted: Amount(r.weighted), Forecast: Amount(r.closed + r.weighted)})
		}
		for _, st := range stageOrder {
			s := stages[cur][st.ID]
			if s == nil {
				continue
			}
			f.ByStage = append(f.ByStage, StageFigures{Stage: st.ID, Name: st.Name, Count: s.count, Amount: Amount(s.amount), Weighted: Amount(s.weighted),
				AvgDaysInStage: math.Round(s.days/float64(s.count)*10) / 10, Stalled: s.stalled})
		}
		f.Closed, f.Weighted, f.Forecast = Amount(closedC), Amount(weightedC), Amount(closedC+weightedC)
		out = append(out, f)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
