package hooks

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestCatchUpLeavesTheWriterLittle: the checkpoint's first step passes
// again while a pass copied much, so that the second step, which holds the
// writer and every push behind it, has little left to copy. The WAL is
// modelled from seeds: a pass copies every frame there when it starts, and
// while it copies (time in proportion to what it copies) the pushes write
// ratio frames for each frame copied.
func TestCatchUpLeavesTheWriterLittle(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 26))
		frames := rng.IntN(12_000)
		copied := 0
		ratio := rng.Float64() * 0.9 // under 1: each pass is shorter than the one before
		if seed%10 == 0 {
			ratio = 0 // a quiet server: the first pass copies everything
		}
		var passes []int // frames each pass copied
		err := catchUp(func() (int, error) {
			n := frames - copied
			copied = frames // every frame there when the pass began is in the file
			frames += int(float64(n) * ratio)
			passes = append(passes, n)
			return copied, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		last := passes[len(passes)-1]
		switch {
		case len(passes) > catchUpPasses:
			t.Fatalf("seed %d: %d passes, at most %d", seed, len(passes), catchUpPasses)
		case last >= catchUpFrames && len(passes) < catchUpPasses:
			t.Fatalf("seed %d (ratio %.2f): stopped after %d passes %v, the last copying %d frames: the second step is left %d",
				seed, ratio, len(passes), passes, last, frames-copied)
		case len(passes) > 1 && passes[len(passes)-2] < catchUpFrames:
			t.Fatalf("seed %d: passes %v went on after one copied little", seed, passes)
		}
	}
}

// TestCatchUpStopsAtAFailure: a failed pass ends the step with its error.
func TestCatchUpStopsAtAFailure(t *testing.T) {
	broken := errors.New("disk I/O error")
	n := 0
	err := catchUp(func() (int, error) {
		n++
		if n == 2 {
			return 0, broken
		}
		return 5000 * n, nil
	})
	if !errors.Is(err, broken) || n != 2 {
		t.Fatalf("after %d passes: %v, want the second pass's error", n, err)
	}
}
