package care_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"rounds/care"
)

// Chinese New Year (春节, lunar 01-01) and the Mid-Autumn Festival (中秋节,
// lunar 08-15), 2020–2035, as published calendars give them (the Hong Kong
// Observatory's Gregorian–lunar tables; the public holidays of the years
// that have passed).
var springFestival = []string{
	"2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06",
	"2028-01-26", "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
}

var midAutumn = []string{
	"2020-10-01", "2021-09-21", "2022-09-10", "2023-09-29", "2024-09-17", "2025-10-06", "2026-09-25", "2027-09-15",
	"2028-10-03", "2029-09-22", "2030-09-12", "2031-10-01", "2032-09-19", "2033-09-08", "2034-09-27", "2035-09-16",
}

func date(s string) care.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return care.DateOf(t)
}

// TestLunarFestivalsFallOnThePublishedDays checks, for every day of
// 2020–2035, that lunar 01-01 and 08-15 are celebrated exactly on the
// published days and on no other.
func TestLunarFestivalsFallOnThePublishedDays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mmdd string
		want []string
	}{{"01-01", springFestival}, {"08-15", midAutumn}} {
		var got []string
		for d := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() <= 2035; d = d.AddDate(0, 0, 1) {
			if slices.Contains(care.CelebratedIn(care.Lunar, care.DateOf(d)), c.mmdd) {
				got = append(got, d.Format(time.DateOnly))
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("lunar %s falls on %v, published %v", c.mmdd, got, c.want)
		}
		for i, want := range c.want {
			from := date(fmt.Sprintf("%d-01-01", 2020+i))
			if next := care.NextCelebration(care.Lunar, c.mmdd, from); next.String() != want {
				t.Errorf("next lunar %s from %s: %s, want %s", c.mmdd, from, next, want)
			}
		}
	}
}

// TestLunarDaysAcrossLeapMonths: every lunar MM-DD is celebrated exactly
// once a lunar year, in the regular month of its number (never in a leap
// month: 2023 has a leap second month, 2025 a leap sixth, 2033 a leap
// eleventh), and a 30th in a month of 29 days on its 29th.
func TestLunarDaysAcrossLeapMonths(t *testing.T) {
	t.Parallel()
	// the leap months, as published: their first days
	for _, c := range []struct {
		first string
		month int
	}{{"2023-03-22", 2}, {"2025-07-25", 6}, {"2028-06-23", 5}, {"2033-12-22", 11}} {
		l := care.LunarOf(date(c.first))
		if !l.Leap || l.Month != c.month || l.Day != 1 {
			t.Errorf("%s is %v, published as the first day of leap month %d", c.first, l, c.month)
		}
		if got := care.LunarCelebratedOn(date(c.first)); len(got) != 0 {
			t.Errorf("%s, in a leap month, celebrates %v", c.first, got)
		}
	}
	// 除夕 of lunar year 2024 (its twelfth month has 29 days) is 2025-01-28
	if got := care.LunarCelebratedOn(date("2025-01-28")); !slices.Equal(got, []string{"12-29", "12-30"}) {
		t.Errorf("2025-01-28 celebrates %v, want 12-29 and 12-30 (a short twelfth month)", got)
	}
	// each lunar day, drawn from a seed, once in each lunar year 2020–2034
	rng := rand.New(rand.NewPCG(25, 1))
	for range 40 {
		mmdd := fmt.Sprintf("%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(30))
		count := map[int]int{}
		for d := time.Date(2020, 1, 25, 12, 0, 0, 0, time.UTC); d.Before(time.Date(2035, 2, 8, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
			day := care.DateOf(d)
			if slices.Contains(care.CelebratedIn(care.Lunar, day), mmdd) {
				l := care.LunarOf(day)
				if l.Leap {
					t.Fatalf("lunar %s celebrated in a leap month on %s", mmdd, day)
				}
				count[l.Year]++
			}
		}
		for y := 2020; y <= 2034; y++ {
			if count[y] != 1 {
				t.Errorf("lunar %s is celebrated %d times in lunar year %d", mmdd, count[y], y)
			}
		}
	}
}
