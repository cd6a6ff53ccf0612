package care

import (
	"fmt"
	gosync "sync"
	"time"

	"github.com/6tail/lunar-go/calendar"
)

// Calendars a birthday or a campaign's day is kept in.
const (
	Gregorian = "gregorian"
	Lunar     = "lunar" // the Chinese lunisolar calendar (农历)
)

// LunarDay is a day of the Chinese lunar calendar: Month 1–12, Leap when
// it is the year's leap month (闰月), Day 1–30, and how many days the
// month has (29 or 30).
type LunarDay struct {
	Year, Month, Day int
	Leap             bool
	MonthDays        int
}

// String formats l as MM-DD, with "leap " before a leap month's days.
func (l LunarDay) String() string {
	if l.Leap {
		return fmt.Sprintf("leap %02d-%02d", l.Month, l.Day)
	}
	return fmt.Sprintf("%02d-%02d", l.Month, l.Day)
}

// LunarOf is the lunar day of a Gregorian day.
func LunarOf(d Date) LunarDay {
	day := dayNumber(d)
	for _, m := range lunarMonthsOf(d.Year) {
		if day >= m.first && day < m.first+m.days {
			return LunarDay{Year: m.year, Month: m.month, Leap: m.leap, Day: int(day-m.first) + 1, MonthDays: m.days}
		}
	}
	panic(fmt.Sprintf("care: no lunar month holds %s", d)) // the library's months cover every solar year
}

// lunarMonth is a month of the lunar calendar as days since 1970-01-01.
type lunarMonth struct {
	first             int
	days, year, month int
	leap              bool
}

var lunarYears gosync.Map // solar year -> []lunarMonth

// lunarMonthsOf lists the lunar months that cover a solar year, computed
// once per year (the library's own cache holds one year, and its full
// conversion computes much more than the day: about a millisecond).
func lunarMonthsOf(year int) []lunarMonth {
	if v, ok := lunarYears.Load(year); ok {
		return v.([]lunarMonth)
	}
	var out []lunarMonth
	for e := calendar.NewLunarYear(year).GetMonths().Front(); e != nil; e = e.Next() {
		m := e.Value.(*calendar.LunarMonth)
		first := calendar.NewSolarFromJulianDay(m.GetFirstJulianDay())
		lm := lunarMonth{first: dayNumber(Date{first.GetYear(), time.Month(first.GetMonth()), first.GetDay()}),
			days: m.GetDayCount(), year: m.GetYear(), month: m.GetMonth()}
		if lm.month < 0 { // the library's leap months are negative
			lm.month, lm.leap = -lm.month, true
		}
		out = append(out, lm)
	}
	lunarYears.Store(year, out)
	return out
}

// dayNumber counts days since 1970-01-01.
func dayNumber(d Date) int {
	return int(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// LunarCelebratedOn lists the lunar MM-DD days celebrated on the Gregorian
// day d, as CelebratedOn does for Gregorian ones:
//   - a day of a regular month is celebrated on itself; on the last day of
//     a month of 29 days, its 30th too (除夕, the 30th of the twelfth month,
//     falls on the 29th in years whose twelfth month is short; a birthday
//     on a 30th likewise);
//   - a leap month (闰月) celebrates nothing: most years have no such month,
//     so a day kept in a leap month is celebrated in the regular month of
//     its number, every year once.
func LunarCelebratedOn(d Date) []string {
	l := LunarOf(d)
	if l.Leap {
		return nil
	}
	days := []string{fmt.Sprintf("%02d-%02d", l.Month, l.Day)}
	if l.Day == 29 && l.MonthDays == 29 {
		days = append(days, fmt.Sprintf("%02d-30", l.Month))
	}
	return days
}

// CelebratedIn lists the MM-DD days celebrated on d in a calendar ("" is
// Gregorian).
func CelebratedIn(cal string, d Date) []string {
	if cal == Lunar {
		return LunarCelebratedOn(d)
	}
	return CelebratedOn(d)
}

// NextCelebration is the first Gregorian day on or after from on which the
// MM-DD day mmdd of calendar cal is celebrated (within two years; the zero
// Date when none, which a valid day never is).
func NextCelebration(cal, mmdd string, from Date) Date {
	t := time.Date(from.Year, from.Month, from.Day, 12, 0, 0, 0, time.UTC)
	for range 2 * 366 {
		d := DateOf(t)
		for _, k := range CelebratedIn(cal, d) {
			if k == mmdd {
				return d
			}
		}
		t = t.AddDate(0, 0, 1)
	}
	return Date{}
}
