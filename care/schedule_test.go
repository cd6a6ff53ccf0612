package care_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"rounds/care"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestZonePrefersContactThenCustomerThenRep(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	cases := []struct {
		names []string
		want  string
	}{
		{[]string{"Asia/Tokyo", "Europe/Berlin", "America/Chicago"}, "Asia/Tokyo"},
		{[]string{"", "Europe/Berlin", "America/Chicago"}, "Europe/Berlin"},
		{[]string{"", "", "America/Chicago"}, "America/Chicago"},
		{[]string{"", "Mars/Base", ""}, "UTC"}, // an invalid zone never wins
		{nil, "UTC"},
	}
	for _, c := range cases {
		if got := care.Zone(utc, c.names...).String(); got != c.want {
			t.Errorf("Zone(%v) = %s, want %s", c.names, got, c.want)
		}
	}
}

func TestCelebratedOnHandles29February(t *testing.T) {
	t.Parallel()
	cases := []struct {
		date care.Date
		want []string
	}{
		{care.Date{Year: 2027, Month: 2, Day: 28}, []string{"02-28", "02-29"}}, // common year: the 29th moves to the 28th
		{care.Date{Year: 2028, Month: 2, Day: 28}, []string{"02-28"}},
		{care.Date{Year: 2028, Month: 2, Day: 29}, []string{"02-29"}},
		{care.Date{Year: 2027, Month: 3, Day: 1}, []string{"03-01"}}, // never silently on 1 March
		{care.Date{Year: 2100, Month: 2, Day: 28}, []string{"02-28", "02-29"}},
		{care.Date{Year: 2000, Month: 2, Day: 28}, []string{"02-28"}},
	}
	for _, c := range cases {
		if got := care.CelebratedOn(c.date); !slices.Equal(got, c.want) {
			t.Errorf("CelebratedOn(%s) = %v, want %v", c.date, got, c.want)
		}
	}
}

func TestDatesAround(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	got := care.DatesAround(now)
	want := []care.Date{{Year: 2026, Month: 2, Day: 28}, {Year: 2026, Month: 3, Day: 1}, {Year: 2026, Month: 3, Day: 2}}
	// 23:30 UTC: 11:30 on 1 March in UTC-12, 13:30 on 2 March in UTC+14
	want = want[1:]
	if !slices.Equal(got, want) {
		t.Fatalf("DatesAround(%v) = %v, want %v", now, got, want)
	}
	early := care.DatesAround(time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC))
	if !slices.Equal(early, []care.Date{{Year: 2026, Month: 2, Day: 28}, {Year: 2026, Month: 3, Day: 1}}) {
		t.Fatalf("05:00 UTC: %v", early)
	}
}

func TestFollowUpTiming(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	newYork := mustZone(t, "America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	cases := []struct {
		name       string
		loc        *time.Location
		due, now   time.Time
		wantSendAt time.Time
		due_, late bool
	}{
		{"due now, inside the window", berlin, at(berlin, 2026, 3, 2, 10, 0), at(berlin, 2026, 3, 2, 10, 0), at(berlin, 2026, 3, 2, 10, 0), true, false},
		{"not yet", berlin, at(berlin, 2026, 3, 2, 10, 0), at(berlin, 2026, 3, 2, 9, 59), at(berlin, 2026, 3, 2, 10, 0), false, false},
		{"due before the window opens: at 07:00", berlin, at(berlin, 2026, 3, 2, 5, 0), at(berlin, 2026, 3, 2, 6, 0), at(berlin, 2026, 3, 2, 7, 0), false, false},
		{"due late in the evening: next morning", berlin, at(berlin, 2026, 3, 2, 22, 30), at(berlin, 2026, 3, 2, 22, 30), at(berlin, 2026, 3, 3, 7, 0), false, false},
		{"caught up after downtime, 23 h late", berlin, at(berlin, 2026, 3, 2, 10, 0), at(berlin, 2026, 3, 3, 9, 0), at(berlin, 2026, 3, 2, 10, 0), true, false},
		{"more than a day late: skipped", berlin, at(berlin, 2026, 3, 2, 10, 0), at(berlin, 2026, 3, 3, 10, 1), at(berlin, 2026, 3, 2, 10, 0), false, true},
		{"caught up at night: waits for the morning", berlin, at(berlin, 2026, 3, 2, 20, 50), at(berlin, 2026, 3, 2, 23, 0), at(berlin, 2026, 3, 3, 7, 0), false, false},
		// 8 March 2026: New York springs forward at 02:00; 07:00 EDT is 11:00 UTC, not 12:00
		{"DST change: the window opens at 07:00 local", newYork, at(newYork, 2026, 3, 8, 0, 30), at(newYork, 2026, 3, 8, 7, 0), time.Date(2026, 3, 8, 11, 0, 0, 0, time.UTC), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := care.FollowUp(c.due, c.now, c.loc)
			if !d.SendAt.Equal(c.wantSendAt) || d.Due != c.due_ || d.Late != c.late {
				t.Fatalf("FollowUp = %+v (send at %v), want send at %v due=%v late=%v", d, d.SendAt.In(c.loc), c.wantSendAt.In(c.loc), c.due_, c.late)
			}
		})
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	day := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	overnight := care.Quiet{Start: care.Clock{Hour: 20}, End: care.Clock{Hour: 8}}
	lunch := care.Quiet{Start: care.Clock{Hour: 12}, End: care.Clock{Hour: 13, Minute: 30}}
	cases := []struct {
		q    care.Quiet
		t    time.Time
		want bool
	}{
		{overnight, day(22, 0), true}, {overnight, day(3, 0), true}, {overnight, day(8, 0), false}, {overnight, day(19, 59), false},
		{lunch, day(12, 30), true}, {lunch, day(13, 30), false}, {lunch, day(11, 59), false},
		{care.Quiet{}, day(3, 0), false},
	}
	for _, c := range cases {
		if got := c.q.Contains(c.t); got != c.want {
			t.Errorf("%v contains %s: %v, want %v", c.q, c.t.Format("15:04"), got, c.want)
		}
	}
}

func TestGreetingDecisions(t *testing.T) {
	t.Parallel()
	tokyo := mustZone(t, "Asia/Tokyo")
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, tokyo) }
	base := care.Greeting{Window: care.BirthdayWindow}
	cases := []struct {
		name    string
		g       care.Greeting
		now     time.Time
		want    care.Verdict
		mention string
	}{
		{"before the window: never at 3 a.m.", base, at(3, 0), care.Wait, ""},
		{"in the window", base, at(9, 30), care.Send, ""},
		{"the window has passed", base, at(11, 0), care.Skip, "has passed"},
		{"weekly maximum reached", care.Greeting{Window: care.BirthdayWindow, WeeklyMax: 2, SentThisWeek: 2}, at(9, 30), care.Skip, "weekly maximum of 2"},
		{"under the weekly maximum", care.Greeting{Window: care.BirthdayWindow, WeeklyMax: 2, SentThisWeek: 1}, at(9, 30), care.Send, ""},
		{"quiet hours: wait", care.Greeting{Window: care.BirthdayWindow, Quiet: care.Quiet{Start: care.Clock{Hour: 9}, End: care.Clock{Hour: 10}}}, at(9, 30), care.Wait, ""},
		{"quiet hours over: send", care.Greeting{Window: care.BirthdayWindow, Quiet: care.Quiet{Start: care.Clock{Hour: 9}, End: care.Clock{Hour: 10}}}, at(10, 15), care.Send, ""},
		{"holiday window", care.Greeting{Window: care.HolidayWindow}, at(9, 30), care.Wait, ""},
		{"quiet hours cover the rest of the window: skip", care.Greeting{Window: care.BirthdayWindow, Quiet: care.Quiet{Start: care.Clock{Hour: 10}, End: care.Clock{Hour: 8}}}, at(10, 0), care.Skip, "quiet hours (10:00–08:00)"},
		{"quiet hours end a minute before the window shuts: wait", care.Greeting{Window: care.BirthdayWindow, Quiet: care.Quiet{Start: care.Clock{Hour: 9}, End: care.Clock{Hour: 10, Minute: 59}}}, at(9, 0), care.Wait, ""},
		{"quiet hours end as the window shuts: skip", care.Greeting{Window: care.BirthdayWindow, Quiet: care.Quiet{Start: care.Clock{Hour: 9}, End: care.Clock{Hour: 11}}}, at(9, 0), care.Skip, "quiet hours"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := c.g.Decide(c.now)
			if got != c.want || !strings.Contains(reason, c.mention) {
				t.Fatalf("Decide(%s) = %v %q, want %v mentioning %q", c.now.Format("15:04"), got, reason, c.want, c.mention)
			}
		})
	}
}

func TestParseClock(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"00:00", "07:30", "23:59"} {
		if c, err := care.ParseClock(s); err != nil || c.String() != s {
			t.Errorf("ParseClock(%q) = %v, %v", s, c, err)
		}
	}
	for _, s := range []string{"24:00", "7:30", "07:60", "ab:cd", "", "07-30"} {
		if _, err := care.ParseClock(s); err == nil {
			t.Errorf("ParseClock(%q) accepted", s)
		}
	}
}

func TestEndOfDay(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	// 25 October 2026 has 25 hours in Berlin
	got := care.EndOfDay(time.Date(2026, 10, 25, 9, 0, 0, 0, berlin))
	if want := time.Date(2026, 10, 25, 23, 59, 59, 0, berlin); !got.Equal(want) {
		t.Fatalf("EndOfDay = %v, want %v", got, want)
	}
}
