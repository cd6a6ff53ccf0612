package sync_test

import (
	"testing"
	"time"

	rsync "rounds/sync"
)

func TestCursorCarriesTopAndBase(t *testing.T) {
	t.Parallel()
	cases := []struct{ top, base, wantBase int64 }{
		{1, 1, 1},
		{5000, 4990, 4990},
		{9_000_000_000, 8_999_999_000, 8_999_999_000}, // still exact in a JavaScript number
		{3_000_000, 1, 3_000_000 - 999_999},           // a huge gap errs late, never early
		{10, 20, 10},                                  // a base past top is clamped
	}
	for _, c := range cases {
		cur := rsync.EncodeCursor(c.top, c.base)
		if cur > 1<<53 {
			t.Errorf("cursor %d does not fit a JavaScript number", cur)
		}
		top, base := rsync.DecodeCursor(cur)
		if prev := rsync.EncodeCursor(c.top-1, 0); cur <= prev {
			t.Errorf("cursor %d is not after %d, a cursor of an earlier top", cur, prev)
		}
		if same := rsync.EncodeCursor(c.top, c.top); cur > same {
			t.Errorf("cursor %d is after %d, the cursor of a pull with nothing new", cur, same)
		}
		if top != c.top || base != c.wantBase {
			t.Errorf("EncodeCursor(%d, %d) decodes to (%d, %d), want (%d, %d)", c.top, c.base, top, base, c.top, c.wantBase)
		}
	}
}

func TestFastDatesMatchTheGenericParser(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2026-03-02 10:00:00.000Z", "1999-12-31 23:59:59.999Z", "2028-02-29 00:00:00.001Z", "1900-01-01 00:00:00.000Z"} {
		want, _ := time.Parse("2006-01-02 15:04:05.000Z", s)
		if got := rsync.DateMillisForTest(s); got != want.UnixMilli() {
			t.Errorf("%s: %d, want %d", s, got, want.UnixMilli())
		}
	}
	for _, s := range []string{"2026-13-02 10:00:00.000Z", "2026-03-02T10:00:00.000Z", "garbage"} {
		if got := rsync.DateMillisForTest(s); got != -1 {
			t.Errorf("%s: accepted as %d", s, got)
		}
	}
}
