package hooks

import (
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// limiter is a fixed-window request limit per client IP, for the public
// customer-care endpoints (guessing tokens, flooding registrations).
type limiter struct {
	mu     gosync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	seen   map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, seen: map[string]*bucket{}}
}

// allow counts a request from key and reports whether it may proceed, and
// if not, when the window reopens.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.seen[key]
	if b == nil || now.Sub(b.start) >= l.window {
		if len(l.seen) > 100_000 { // forget old windows rather than grow without bound
			for k, v := range l.seen {
				if now.Sub(v.start) >= l.window {
					delete(l.seen, k)
				}
			}
		}
		b = &bucket{start: now}
		l.seen[key] = b
	}
	b.n++
	if b.n > l.max {
		return false, b.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// CareRateLimit is how many requests one client may send to the customer
// care endpoints per minute.
const CareRateLimit = 60

// registerCareRateLimit limits /api/care/* and /care/* per client IP.
func registerCareRateLimit(app core.App, deps Deps) {
	l := newLimiter(CareRateLimit, time.Minute, deps.Now)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			p := e.Request.URL.Path
			if !strings.HasPrefix(p, "/api/care/") && !strings.HasPrefix(p, "/care/") {
				return e.Next()
			}
			if ok, wait := l.allow(e.RealIP()); !ok {
				e.Response.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				return router.NewApiError(http.StatusTooManyRequests, "Too many requests to the customer care endpoints; try again in a minute.", nil)
			}
			return e.Next()
		})
		return se.Next()
	})
}

// FailedSignInLimit is how many failed sign-ins one client may make per
// minute before sign-in is refused for the rest of the minute.
const FailedSignInLimit = 10

// registerSignInLimit slows down password guessing: after
// FailedSignInLimit failed attempts from one address within a minute,
// sign-in answers 429 until the minute is over. Successful sign-ins are
// not counted (a field team behind one office address signs in freely).
func registerSignInLimit(app core.App, deps Deps) {
	failures := newLimiter(FailedSignInLimit, time.Minute, deps.Now)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			if e.Request.Method != http.MethodPost || !strings.HasSuffix(e.Request.URL.Path, "/auth-with-password") {
				return e.Next()
			}
			ip := e.RealIP()
			if wait, blocked := failures.blocked(ip); blocked {
				e.Response.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				return router.NewApiError(http.StatusTooManyRequests, "Too many failed sign-ins from this address; try again in a minute.", nil)
			}
			err := e.Next()
			if err != nil || e.Status() == http.StatusBadRequest {
				failures.allow(ip) // counts the failure
			}
			return err
		})
		return se.Next()
	})
}

// blocked reports whether key has used up its window, without counting.
func (l *limiter) blocked(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.seen[key]
	if b == nil || l.now().Sub(b.start) >= l.window || b.n < l.max {
		return 0, false
	}
	return b.start.Add(l.window).Sub(l.now()), true
}
