package crm

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Customer value and coverage: customers sorted by revenue are A until
// their cumulative share reaches the A threshold (the customer that
// reaches it is A), B until the B threshold, C after that and whenever
// revenue is zero; each tier is visited on its own cycle.

// CompanySettings is the collection of the company's settings (one
// record, CompanySettingsID), which admins edit.
const (
	CompanySettings   = "company_settings"
	CompanySettingsID = "companysettings"
)

// CustomerEvents holds what happened to a customer besides its records:
// territory and tier changes (for its timeline).
const (
	CustomerEvents   = "customer_events"
	EventOwnerChange = "owner_change"
	EventTierChange  = "tier_change"
)

// Views of coverage, for the dashboard.
const (
	VisitsDue        = "visits_due"
	CustomerTimeline = "customer_timeline"
	RepActivity      = "rep_activity"
)

// Tiers.
const (
	TierA = "A"
	TierB = "B"
	TierC = "C"
)

// Coverage is what the tiers and visit cycles are computed with.
type Coverage struct {
	MainCurrency   string  // revenue in other currencies does not count
	AShare, BShare float64 // cumulative revenue shares, percent: 80, 95
	CycleA, CycleB int     // days between visits by tier: 14, 30, 90
	CycleC         int
	RevenueMonths  int // how far back revenue counts: 12
}

// DefaultCoverage are the settings a fresh database starts with.
var DefaultCoverage = Coverage{MainCurrency: "EUR", AShare: 80, BShare: 95, CycleA: 14, CycleB: 30, CycleC: 90, RevenueMonths: 12}

// Revenue is a customer's revenue over the window.
type Revenue struct {
	Customer string
	Amount   float64
}

// AssignTiers gives every customer a tier from its revenue: sorted largest
// first, a customer is A while the share of revenue ahead of it is below
// AShare (so the customer that reaches the share is A), B while below
// BShare, C after that; revenue zero (or less) is always C. Customers with
// equal revenue share a tier: the one their first would get.
func AssignTiers(revenues []Revenue, aShare, bShare float64) map[string]string {
	sorted := slices.Clone(revenues)
	slices.SortFunc(sorted, func(x, y Revenue) int {
		if c := cmp.Compare(Cents(y.Amount), Cents(x.Amount)); c != 0 {
			return c
		}
		return cmp.Compare(x.Customer, y.Customer)
	})
	var total int64
	for _, r := range sorted {
		total += max(Cents(r.Amount), 0)
	}
	out := make(map[string]string, len(sorted))
	var ahead int64 // revenue of the customers with more
	tier := TierA
	for i, r := range sorted {
		c := Cents(r.Amount)
		if i == 0 || c != Cents(sorted[i-1].Amount) { // a new revenue: its tier from what is ahead
			switch {
			case float64(ahead)*100 < aShare*float64(total):
				tier = TierA
			case float64(ahead)*100 < bShare*float64(total):
				tier = TierB
			default:
				tier = TierC
			}
		}
		if c <= 0 {
			out[r.Customer] = TierC
			continue
		}
		out[r.Customer] = tier
		ahead += c
	}
	return out
}

// CycleDays is how many days may pass between two visits of a customer:
// its own visit_every_days, else its tier's default.
func (cv Coverage) CycleDays(tier string, every int) int {
	if every > 0 {
		return every
	}
	switch tier {
	case TierA:
		return cv.CycleA
	case TierB:
		return cv.CycleB
	default:
		return cv.CycleC
	}
}

// NextVisitDue is when a customer is due again: the last visit plus the
// cycle; a customer never visited is due since it exists (since).
func NextVisitDue(last time.Time, cycleDays int, since time.Time) time.Time {
	if last.IsZero() {
		return since
	}
	return last.AddDate(0, 0, cycleDays)
}

// DaysOverdue is how many whole days past due a customer is at now, in
// loc (the customer's time zone): 0 when due today or later, -1 when not
// due yet.
func DaysOverdue(due, now time.Time, loc *time.Location) int {
	d := dayOf(due.In(loc))
	n := dayOf(now.In(loc))
	if d.After(n) {
		return -1
	}
	return int(n.Sub(d).Hours()/24 + 0.5)
}

func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// DateLayout is how PocketBase stores dates.
const DateLayout = "2006-01-02 15:04:05.000Z"

// CoverageOf reads the company's settings record (zero fields keep the
// defaults).
func CoverageOf(s Stored) Coverage {
	cv := DefaultCoverage
	if s == nil {
		return cv
	}
	if v := s.GetString("main_currency"); v != "" {
		cv.MainCurrency = v
	}
	for field, dst := range map[string]*float64{"tier_a_share": &cv.AShare, "tier_b_share": &cv.BShare} {
		if v := s.GetFloat(field); v > 0 {
			*dst = v
		}
	}
	for field, dst := range map[string]*int{"cycle_a_days": &cv.CycleA, "cycle_b_days": &cv.CycleB, "cycle_c_days": &cv.CycleC, "revenue_months": &cv.RevenueMonths} {
		if v := s.GetInt(field); v > 0 {
			*dst = v
		}
	}
	return cv
}

// ScheduleVisits sets a customer's next_visit_due from its last_visit_at,
// tier and visit_every_days; a customer never visited is due since it was
// created (now, for a new one).
func ScheduleVisits(r Record, cv Coverage, now time.Time) {
	last, _ := time.Parse(DateLayout, r.GetString("last_visit_at"))
	since, err := time.Parse(DateLayout, r.GetString("created"))
	if err != nil {
		since = now
	}
	due := NextVisitDue(last, cv.CycleDays(r.GetString("tier"), r.GetInt("visit_every_days")), since)
	r.Set("next_visit_due", due.UTC().Format(DateLayout))
}

// NextVisitDueSQL is ScheduleVisits as an SQL expression over a customers
// row, for updating many customers at once (a migration, a change of the
// settings, the seed). A test holds the two to the same answers.
func NextVisitDueSQL(cv Coverage) string {
	return fmt.Sprintf(`(CASE WHEN COALESCE(last_visit_at, '') = '' THEN created
		ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%fZ', last_visit_at, '+' || (CASE WHEN visit_every_days > 0 THEN CAST(visit_every_days AS INTEGER)
			WHEN tier = 'A' THEN %d WHEN tier = 'B' THEN %d ELSE %d END) || ' days') END)`, cv.CycleA, cv.CycleB, cv.CycleC)
}

// LastVisitQuery is the latest checked-in visit of one customer ({:c}).
const LastVisitQuery = `SELECT COALESCE(MAX(checked_in_at), '') FROM visits WHERE customer = {:c} AND checked_in_at != ''`

// LastVisitSQL is the latest checked-in visit of a customers row.
const LastVisitSQL = `COALESCE((SELECT MAX(v.checked_in_at) FROM visits v WHERE v.customer = customers.id AND v.checked_in_at != ''), '')`
