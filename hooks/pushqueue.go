package hooks

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// pushQueue lets pushes apply one at a time in the order they arrived and
// bounds how many wait. database/sql hands its one write connection to a
// random waiter, so under load a push could be overtaken by thousands sent
// after it and wait many seconds (issue 16: p95 60–130 ms at a p50 of 2 ms,
// a worst case of 22 s). A goroutine blocked on a channel is served first
// in, first out; a push that finds Max already waiting is answered 429 at
// once, with a Retry-After from the queue's length and the recent time per
// push, instead of a wait the phone gives up on and retries.
//
// Each rep holds at most perRep places (waiting or applying): one account
// that keeps many pushes in flight (a script, a phone that retries without
// waiting) is answered 429 itself and does not fill the queue that every
// other rep waits in.
type pushQueue struct {
	slot    chan struct{} // holds one token: whoever takes it applies their push
	max     int64         // pushes that may wait; 0: no queue (database/sql decides)
	perRep  int           // places one rep may hold; 0: no limit
	waiting atomic.Int64
	mean    atomic.Int64 // moving average of the time a push holds the slot, ns

	mu   gosync.Mutex
	held map[string]int // places held per rep
}

func newPushQueue(max, perRep int) *pushQueue {
	q := &pushQueue{slot: make(chan struct{}, 1), max: int64(max), perRep: perRep, held: map[string]int{}}
	q.slot <- struct{}{}
	q.mean.Store(int64(5 * time.Millisecond))
	return q
}

// busyError is the 429 of a full queue, or of a rep who holds their share
// of it (own).
type busyError struct {
	retryAfter time.Duration
	own        int // the places the rep holds; 0 when the queue is full
}

// enter waits for the push's turn; release must be called when the push
// is applied. rep is who pushes ("" for the server's own work, which has no
// share). A full queue, or a rep who already holds perRep places, answers
// busyError; a client that gives up while waiting leaves the queue.
func (q *pushQueue) enter(ctx context.Context, rep string) (release func(), err error) {
	if !q.take(rep) {
		return nil, busyError{retryAfter: q.retryAfter(q.waiting.Load() + 1), own: q.perRep}
	}
	if q.max <= 0 {
		return func() { q.give(rep) }, nil
	}
	var place int64 = 1 // the server's own turn waits without taking a place
	if rep == serverTurn {
		place = 0
	}
	if n := q.waiting.Add(place); n > q.max {
		q.waiting.Add(-place)
		q.give(rep)
		return nil, busyError{retryAfter: q.retryAfter(n)}
	}
	select {
	case <-q.slot:
		q.waiting.Add(-place)
	case <-ctx.Done():
		q.waiting.Add(-place)
		q.give(rep)
		return nil, ctx.Err()
	}
	start := time.Now()
	return func() {
		took := int64(time.Since(start))
		q.mean.Store((7*q.mean.Load() + took) / 8)
		q.give(rep)
		q.slot <- struct{}{} // to the longest waiter, if any
		// the waiter was made runnable on this goroutine's processor:
		// yield, so that the next push starts now rather than after this
		// one has written its answer
		runtime.Gosched()
	}, nil
}

// serverTurn is who the server's own work (the checkpointer's second
// step) enters the queue as: it waits its turn like a push, but holds no
// share and takes no waiting place, so that it never makes a rep's push
// find the queue full (with a small queue, a rep's one free place went to
// it while another rep held their share).
const serverTurn = "\x00server"

// shared reports whether rep's places are counted against a share.
func (q *pushQueue) shared(rep string) bool {
	return rep != "" && rep != serverTurn && q.perRep > 0
}

// take counts a place for rep, unless they hold their share already.
func (q *pushQueue) take(rep string) bool {
	if !q.shared(rep) {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[rep] >= q.perRep {
		return false
	}
	q.held[rep]++
	return true
}

// give returns a place of rep.
func (q *pushQueue) give(rep string) {
	if !q.shared(rep) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[rep]--; q.held[rep] <= 0 {
		delete(q.held, rep)
	}
}

// retryAfter is how long the n pushes ahead take at the recent pace,
// whole seconds, at least one.
func (q *pushQueue) retryAfter(n int64) time.Duration {
	s := math.Ceil(time.Duration(n * q.mean.Load()).Seconds())
	return time.Duration(max(1, s)) * time.Second
}

func (b busyError) Error() string { return "push queue full" }

// answer writes the 429: Retry-After in seconds and a message that says
// nothing was changed, and why.
func (b busyError) answer(e *core.RequestEvent, waiting int64) error {
	secs := int(b.retryAfter / time.Second)
	e.Response.Header().Set("Retry-After", strconv.Itoa(secs))
	if b.own > 0 {
		return router.NewApiError(http.StatusTooManyRequests,
			fmt.Sprintf("You already have %d pushes waiting or being applied, the most one account may have. Nothing was changed; push again in %d s (Retry-After), after the pushes you sent are answered.", b.own, secs), nil)
	}
	return router.NewApiError(http.StatusTooManyRequests,
		fmt.Sprintf("The server is busy: %d pushes are waiting. Nothing was changed; push again in %d s (Retry-After).", waiting, secs), nil)
}
