package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// waitFor polls until cond holds (a goroutine has reached its place).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// parkedInEnter counts the goroutines blocked in pushQueue.enter.
func parkedInEnter() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "(*pushQueue).enter") {
			n++
		}
	}
	return n
}

// TestPushQueueServesInArrivalOrder: pushes that wait get their turn in
// the order they arrived, one at a time.
func TestPushQueueServesInArrivalOrder(t *testing.T) {
	t.Parallel()
	q := newPushQueue(1000, 0)
	hold, err := q.enter(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var mu sync.Mutex
	var order []int
	inside := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := q.enter(context.Background(), "")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			if inside > 1 {
				t.Errorf("push %d applies while another does", i)
			}
			order = append(order, i)
			mu.Unlock()
			time.Sleep(10 * time.Microsecond)
			mu.Lock()
			inside--
			mu.Unlock()
			release()
		}()
		// arrival is when the push blocks on the queue (its count goes up
		// just before): wait until this one is parked there
		waitFor(t, "the push to queue", func() bool { return parkedInEnter() == i+1 })
	}
	hold()
	wg.Wait()
	if !slices.IsSorted(order) || len(order) != n {
		t.Fatalf("pushes applied out of arrival order: %v", order)
	}
}

// TestPushQueueIsBounded: a push that finds the queue full is answered at
// once with a Retry-After covering the pushes ahead; one that gives up
// while it waits leaves the queue.
func TestPushQueueIsBounded(t *testing.T) {
	t.Parallel()
	q := newPushQueue(2, 0)
	q.mean.Store(int64(700 * time.Millisecond))
	hold, _ := q.enter(context.Background(), "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		go func() {
			release, err := q.enter(ctx, "")
			if err == nil {
				release()
			}
			done <- err
		}()
	}
	waitFor(t, "two waiting pushes", func() bool { return q.waiting.Load() == 2 })
	start := time.Now()
	_, err := q.enter(context.Background(), "")
	var busy busyError
	if !errors.As(err, &busy) || time.Since(start) > time.Second {
		t.Fatalf("a push past the queue: %v after %v, want busy at once", err, time.Since(start))
	}
	if busy.retryAfter != 3*time.Second { // three pushes at 0.7 s, rounded up
		t.Errorf("Retry-After %v, want 3s", busy.retryAfter)
	}
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{}
	e.Response = rec
	e.Request = httptest.NewRequest(http.MethodPost, "/api/sync/push", nil)
	var apiErr *router.ApiError
	if err := busy.answer(e, q.max); !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3" {
		t.Errorf("the answer: %v, Retry-After %q", err, rec.Header().Get("Retry-After"))
	}
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("a waiting push whose client gave up: %v", err)
		}
	}
	if q.waiting.Load() != 0 {
		t.Fatalf("%d pushes still counted as waiting", q.waiting.Load())
	}
	hold()
	release, err := q.enter(context.Background(), "")
	if err != nil {
		t.Fatalf("the queue after the waiters left: %v", err)
	}
	release()
}

// TestServerTurnTakesNoPlace: the server's own work waits its turn in the
// queue but takes no waiting place, so with the checkpointer waiting
// another rep's push still gets the queue's last place instead of a 429.
func TestServerTurnTakesNoPlace(t *testing.T) {
	t.Parallel()
	q := newPushQueue(2, 1)
	hold, err := q.enter(context.Background(), "a") // applying
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 3)
	start := func(who string) {
		go func() {
			release, err := q.enter(context.Background(), who)
			if err != nil {
				results <- fmt.Errorf("%q: %w", who, err)
				return
			}
			release()
			results <- nil
		}()
	}
	waitFor := func(n int64) {
		for q.waiting.Load() < n {
			time.Sleep(time.Millisecond)
		}
	}
	start("b")
	waitFor(1)
	start(serverTurn)
	time.Sleep(20 * time.Millisecond) // waiting now, without a place
	start("c")                        // the queue's second place
	time.Sleep(20 * time.Millisecond)
	hold()
	for range 3 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}
