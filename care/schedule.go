// Package care decides who is due for which message, when, in whose time
// zone. Pure: the clock is always passed in, nothing touches a database.
package care

import (
	"fmt"
	"time"
)

// Clock is a time of day.
type Clock struct{ Hour, Minute int }

func (c Clock) minutes() int { return c.Hour*60 + c.Minute }

// String formats c as HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// ParseClock reads HH:MM (00:00 to 23:59).
func ParseClock(s string) (Clock, error) {
	var c Clock
	if len(s) != 5 || s[2] != ':' {
		return c, fmt.Errorf("%q is not a time of day in the form HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &c.Hour, &c.Minute); err != nil || c.Hour > 23 || c.Minute > 59 || c.Hour < 0 || c.Minute < 0 {
		return Clock{}, fmt.Errorf("%q is not a time of day in the form HH:MM", s)
	}
	return c, nil
}

// ClockOf is the local time of day of t.
func ClockOf(t time.Time) Clock { return Clock{t.Hour(), t.Minute()} }

// Window is a span of local time of day, [Start, End).
type Window struct{ Start, End Clock }

// Contains reports whether the local time of t falls in w.
func (w Window) Contains(t time.Time) bool {
	m := ClockOf(t).minutes()
	return m >= w.Start.minutes() && m < w.End.minutes()
}

// Send windows, in the recipient's local time. They all keep clear of
// 01:00–03:00, where DST moves the clock.
var (
	FollowUpWindow = Window{Clock{7, 0}, Clock{21, 0}}
	DigestWindow   = Window{Clock{8, 0}, Clock{11, 0}} // at 08:00; caught up until 11:00
	BirthdayWindow = Window{Clock{9, 0}, Clock{11, 0}}
	HolidayWindow  = Window{Clock{10, 0}, Clock{12, 0}}
)

// FollowUpGrace is how late a follow-up reminder may still go out after
// downtime; later than that it is skipped.
const FollowUpGrace = 24 * time.Hour

// Zone picks a recipient's time zone: the first of names that is a valid
// IANA zone (contact override, customer, rep), else fallback.
func Zone(fallback *time.Location, names ...string) *time.Location {
	for _, n := range names {
		if n == "" || n == "Local" {
			continue
		}
		if loc, err := time.LoadLocation(n); err == nil {
			return loc
		}
	}
	return fallback
}

// Date is a calendar day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the calendar day of t in its location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.String() < e.String() }

// MMDD formats d's day of the year as MM-DD.
func (d Date) MMDD() string { return fmt.Sprintf("%02d-%02d", d.Month, d.Day) }

// IsLeap reports whether year has a 29 February.
func IsLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// CelebratedOn lists the MM-DD days celebrated on d: d itself and, on
// 28 February of a common year, 29 February (those birthdays move to the
// 28th, never silently to 1 March).
func CelebratedOn(d Date) []string {
	keys := []string{d.MMDD()}
	if d.Month == time.February && d.Day == 28 && !IsLeap(d.Year) {
		keys = append(keys, "02-29")
	}
	return keys
}

// DatesAround lists the local calendar days that exist somewhere on Earth
// at instant now (UTC-12 to UTC+14): the days whose birthdays and holidays
// may be due.
func DatesAround(now time.Time) []Date {
	var out []Date
	for _, offset := range []time.Duration{-12 * time.Hour, 0, 14 * time.Hour} {
		d := DateOf(now.UTC().Add(offset))
		if len(out) == 0 || out[len(out)-1] != d {
			out = append(out, d)
		}
	}
	return out
}

// EndOfDay is the last instant of t's local day (for message TTLs).
func EndOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location()).Add(-time.Second)
}

// FollowUpSendAt is when the reminder of a follow-up due at due goes to a
// rep in loc: at due inside 07:00–21:00, otherwise at the window's next
// opening.
func FollowUpSendAt(due time.Time, loc *time.Location) time.Time {
	local := due.In(loc)
	y, m, d := local.Date()
	open := time.Date(y, m, d, FollowUpWindow.Start.Hour, FollowUpWindow.Start.Minute, 0, 0, loc)
	switch {
	case FollowUpWindow.Contains(local):
		return due
	case local.Before(open):
		return open
	default:
		return time.Date(y, m, d+1, FollowUpWindow.Start.Hour, FollowUpWindow.Start.Minute, 0, 0, loc)
	}
}

// FollowUpDecision says whether a follow-up reminder goes out at now.
type FollowUpDecision struct {
	SendAt time.Time
	Due    bool   // send now
	Late   bool   // past the grace period: skip it
	Reason string // why it was skipped
}

// FollowUp decides a follow-up reminder at now (after downtime, reminders
// less than a day late still go; never at night).
func FollowUp(due, now time.Time, loc *time.Location) FollowUpDecision {
	sendAt := FollowUpSendAt(due, loc)
	dec := FollowUpDecision{SendAt: sendAt}
	switch {
	case now.Before(sendAt):
	case now.Sub(sendAt) >= FollowUpGrace:
		dec.Late, dec.Reason = true, "more than a day late"
	case !FollowUpWindow.Contains(now.In(loc)):
		// caught up after downtime, but it is night now: wait for the morning
		dec.SendAt = FollowUpSendAt(now, loc)
		if dec.SendAt.Sub(sendAt) >= FollowUpGrace {
			dec.Late, dec.Reason = true, "more than a day late"
		}
	default:
		dec.Due = true
	}
	return dec
}

// Quiet is a customer's quiet hours, possibly across midnight; a zero
// value (Start == End) means none.
type Quiet struct{ Start, End Clock }

// Contains reports whether the local time of t is within the quiet hours.
func (q Quiet) Contains(t time.Time) bool {
	s, e, m := q.Start.minutes(), q.End.minutes(), ClockOf(t).minutes()
	switch {
	case s == e:
		return false
	case s < e:
		return m >= s && m < e
	default: // across midnight, e.g. 20:00-08:00
		return m >= s || m < e
	}
}

// Greeting decides a customer greeting at now in loc: inside the window of
// its day, outside the customer's quiet hours, under the weekly maximum
// (sentThisWeek counts the customer messages of the last seven days;
// weeklyMax 0 means no maximum).
type Greeting struct {
	Window       Window
	Quiet        Quiet
	WeeklyMax    int
	SentThisWeek int
}

// Verdict is a greeting decision: send, wait, or skip for a reason.
type Verdict int

const (
	Wait Verdict = iota
	Send
	Skip
)

// Decide returns the verdict for now (which must be on the greeting's
// local day) and, for a skip, the reason.
func (g Greeting) Decide(now time.Time) (Verdict, string) {
	switch {
	case ClockOf(now).minutes() < g.Window.Start.minutes():
		return Wait, ""
	case !g.Window.Contains(now):
		return Skip, "its window (" + g.Window.Start.String() + "–" + g.Window.End.String() + " local time) has passed"
	case g.WeeklyMax > 0 && g.SentThisWeek >= g.WeeklyMax:
		return Skip, fmt.Sprintf("weekly maximum of %d reached", g.WeeklyMax)
	case g.Quiet.Contains(now):
		if _, ok := g.FirstOpen(now); !ok {
			return Skip, "quiet hours (" + g.Quiet.Start.String() + "–" + g.Quiet.End.String() + ") cover the rest of its window"
		}
		return Wait, "" // quiet hours end inside the window
	}
	return Send, ""
}

// FirstOpen is the first minute at or after from, inside the window of
// from's local day and outside the quiet hours; ok is false when there is
// none (the window has passed, or quiet hours cover the rest of it).
func (g Greeting) FirstOpen(from time.Time) (time.Time, bool) {
	y, m, d := from.Date()
	open := time.Date(y, m, d, g.Window.Start.Hour, g.Window.Start.Minute, 0, 0, from.Location())
	shut := time.Date(y, m, d, g.Window.End.Hour, g.Window.End.Minute, 0, 0, from.Location())
	t := from
	if t.Before(open) {
		t = open
	}
	if s := t.Truncate(time.Minute); s.Before(t) {
		t = s.Add(time.Minute)
	}
	for ; t.Before(shut); t = t.Add(time.Minute) {
		if !g.Quiet.Contains(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// Bounds are the instants the window of day opens and shuts in loc.
func (w Window) Bounds(day Date, loc *time.Location) (open, shut time.Time) {
	open = time.Date(day.Year, day.Month, day.Day, w.Start.Hour, w.Start.Minute, 0, 0, loc)
	shut = time.Date(day.Year, day.Month, day.Day, w.End.Hour, w.End.Minute, 0, 0, loc)
	return open, shut
}
