package loadtest

import (
	"testing"
	"time"
)

// TestOvertaken: a push is overtaken when a push sent after it finished
// before it; the share is of the slow pushes.
func TestOvertaken(t *testing.T) {
	t.Parallel()
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	times := []pushTime{
		{at(0), at(100)}, // slow, overtaken by the next two
		{at(10), at(20)},
		{at(30), at(40)},
		{at(50), at(60)},  // not overtaken
		{at(70), at(200)}, // slow, not overtaken (nothing sent later)
	}
	n, share := overtaken(times, 50*time.Millisecond)
	if n != 1 || share != 0.5 {
		t.Fatalf("overtaken %d, slow share %v; want 1 and 0.5", n, share)
	}
}
