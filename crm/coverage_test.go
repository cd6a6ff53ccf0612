package crm_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"rounds/crm"
)

func TestAssignTiers(t *testing.T) {
	t.Parallel()
	tiers := func(amounts ...float64) string {
		var rs []crm.Revenue
		for i, a := range amounts {
			rs = append(rs, crm.Revenue{Customer: fmt.Sprintf("c%02d", i), Amount: a})
		}
		got := crm.AssignTiers(rs, 80, 95)
		var b strings.Builder
		for i := range amounts {
			b.WriteString(got[fmt.Sprintf("c%02d", i)])
		}
		return b.String()
	}
	for _, c := range []struct {
		name    string
		amounts []float64
		want    string
	}{
		{"a Pareto company", []float64{50, 30, 10, 5, 3, 2}, "AABBCC"},
		{"the customer that reaches 80 % is A; the next is B", []float64{80, 15, 5}, "ABC"},
		{"listed in any order", []float64{2, 50, 3, 30, 5, 10}, "CACABB"},
		{"one customer", []float64{1234.56}, "A"},
		{"no revenue at all", []float64{0, 0, 0}, "CCC"},
		{"no customers", nil, ""},
		{"revenue zero is C whatever the share", []float64{100, 0}, "AC"},
		{"a refund (negative) is C and does not count", []float64{60, 40, -30}, "AAC"},
		{"ties share a tier", []float64{40, 40, 20}, "AAB"},
		{"ties straddling the cut take the first one's tier", []float64{70, 10, 10, 10}, "AAAA"},
		{"after a tie the share counts every tied customer", []float64{40, 20, 20, 10, 10}, "AAABB"},
		{"ties at the B cut", []float64{80, 5, 5, 5, 5}, "ABBBB"},
		{"cents decide, not floats", []float64{0.1 + 0.2, 0.3}, "AA"},
	} {
		if got := tiers(c.amounts...); got != c.want {
			t.Errorf("%s: %v -> %s, want %s", c.name, c.amounts, got, c.want)
		}
	}
}

// TestAssignTiersProperties: on random companies, A customers hold at least
// the A share of revenue (and the last A customer was needed to reach it),
// tiers never improve as revenue falls, and zero revenue is C.
func TestAssignTiersProperties(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		var rs []crm.Revenue
		var total int64
		for i := rng.IntN(60); i >= 0; i-- {
			a := float64(rng.IntN(5)) * float64(rng.IntN(100000)) / 100 // many zeros and ties
			rs = append(rs, crm.Revenue{Customer: fmt.Sprintf("c%03d", i), Amount: a})
			total += crm.Cents(a)
		}
		got := crm.AssignTiers(rs, 80, 95)
		var aSum int64
		minA := int64(-1)
		for _, r := range rs {
			c := crm.Cents(r.Amount)
			if c == 0 && got[r.Customer] != crm.TierC {
				t.Fatalf("seed %d: zero revenue is %s", seed, got[r.Customer])
			}
			if got[r.Customer] == crm.TierA {
				aSum += c
				if minA < 0 || c < minA {
					minA = c
				}
			}
			for _, s := range rs {
				if crm.Cents(s.Amount) > c && got[s.Customer] > got[r.Customer] {
					t.Fatalf("seed %d: %v (%s) ranks below %v (%s)", seed, s.Amount, got[s.Customer], r.Amount, got[r.Customer])
				}
			}
		}
		if total > 0 && aSum*100 < 80*total {
			t.Fatalf("seed %d: A customers hold %d of %d", seed, aSum, total)
		}
		if total > 0 && (aSum-minA)*100 >= 80*total {
			// without the smallest A revenue the share was reached already: only ties may cause that
			n := 0
			for _, r := range rs {
				if crm.Cents(r.Amount) == minA {
					n++
				}
			}
			if n < 2 {
				t.Fatalf("seed %d: the last A customer (%d) was not needed", seed, minA)
			}
		}
	}
}

func TestVisitCycles(t *testing.T) {
	t.Parallel()
	cv := crm.DefaultCoverage
	for _, c := range []struct {
		tier  string
		every int
		want  int
	}{{"A", 0, 14}, {"B", 0, 30}, {"C", 0, 90}, {"", 0, 90}, {"A", 7, 7}, {"C", 45, 45}} {
		if got := cv.CycleDays(c.tier, c.every); got != c.want {
			t.Errorf("CycleDays(%q, %d) = %d, want %d", c.tier, c.every, got, c.want)
		}
	}
	since := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	if got := crm.NextVisitDue(time.Time{}, 14, since); !got.Equal(since) {
		t.Errorf("never visited: due %v, want since %v", got, since)
	}
	last := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	if got := crm.NextVisitDue(last, 14, since); !got.Equal(time.Date(2026, 3, 15, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("due %v", got)
	}
}

func TestDaysOverdueAtDayEdges(t *testing.T) {
	t.Parallel()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC) // 23:00 on 10 March in Tokyo, 15:00 in Berlin
	for _, c := range []struct {
		now  time.Time
		loc  *time.Location
		want int
	}{
		{time.Date(2026, 3, 10, 14, 59, 0, 0, time.UTC), tokyo, 0},  // 23:59 on the day: due today
		{time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC), tokyo, 1},   // 00:00 the next day in Tokyo: a day late
		{time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC), berlin, 0},  // still 10 March in Berlin
		{time.Date(2026, 3, 9, 22, 59, 0, 0, time.UTC), berlin, -1}, // 23:59 on 9 March in Berlin: not yet
		{time.Date(2026, 3, 9, 23, 0, 0, 0, time.UTC), berlin, 0},   // midnight: due today
		{time.Date(2026, 4, 9, 23, 0, 0, 0, time.UTC), berlin, 31},  // across the change to summer time
	} {
		if got := crm.DaysOverdue(due, c.now, c.loc); got != c.want {
			t.Errorf("DaysOverdue at %v in %s = %d, want %d", c.now, c.loc, got, c.want)
		}
	}
}
