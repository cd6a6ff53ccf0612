package hooks

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"

	"rounds/crm"
)

// The users' auth tokens, remembered for a short while (the middleware
// takes the place of PocketBase's loadAuthToken and does what it does).
//
// PocketBase checks a request's token by reading its user from the
// database (the token is signed with a key the user's record holds): a
// read transaction on a connection that, on a syncing server, nearly always
// has to drop its page cache first because a push has committed since. A
// sync is three requests in a few milliseconds, and that read was 9 % of the
// server's CPU at 80 syncs a second. The check is made by PocketBase as
// before; what it found is kept for the same token, for at most
// tokenCacheTTL and never past the token's expiry, and forgotten the
// moment any user or the users collection changes (a new password or
// token key, a new role, manager or team, a deletion). A lookup that began
// before such a change is not kept (generation).
//
// Only tokens of the users collection are kept: superusers' are checked
// every time, as PocketBase does.
type tokenCache struct {
	mu         gosync.Mutex
	generation uint64
	entries    map[string]tokenEntry
	now        func() time.Time
}

type tokenEntry struct {
	record *core.Record
	until  time.Time
}

// tokenCacheTTL bounds how long a token's user is remembered.
const tokenCacheTTL = 2 * time.Minute

// maxCachedTokens bounds the cache; past it, it starts again empty.
const maxCachedTokens = 50_000

// tokensOff turns the cache off (SetTokenCacheForBenchmark).
var tokensOff atomic.Bool

// SetTokenCacheForBenchmark turns remembering tokens off (false) or on,
// for a benchmark that compares the two in one run, and returns a function
// that puts the setting back.
func SetTokenCacheForBenchmark(on bool) (restore func()) {
	was := tokensOff.Swap(!on)
	return func() { tokensOff.Store(was) }
}

func newTokenCache(now func() time.Time) *tokenCache {
	return &tokenCache{entries: map[string]tokenEntry{}, now: now}
}

// get returns a copy of the user token was found for, nil when it is not
// remembered (or no longer valid).
func (c *tokenCache) get(token string) *core.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[token]
	if !ok {
		return nil
	}
	if !c.now().Before(e.until) {
		delete(c.entries, token)
		return nil
	}
	return e.record.Clone()
}

func (c *tokenCache) gen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

// put remembers record for token until the token expires (exp, unix
// seconds) or tokenCacheTTL, unless a user changed since gen.
func (c *tokenCache) put(token string, record *core.Record, exp int64, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.generation {
		return
	}
	until := c.now().Add(tokenCacheTTL)
	if expiry := time.Unix(exp, 0); expiry.Before(until) {
		until = expiry
	}
	if !c.now().Before(until) {
		return
	}
	if len(c.entries) >= maxCachedTokens {
		c.entries = map[string]tokenEntry{}
	}
	c.entries[token] = tokenEntry{record: record.Clone(), until: until}
}

// forget drops every remembered token: a user or the users collection
// changed.
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	clear(c.entries)
}

// registerTokenCache puts the cache in front of PocketBase's token check.
// Tokens expire by the wall clock, whatever clock Deps gives the rest.
func registerTokenCache(app core.App) {
	cache := newTokenCache(time.Now)
	forget := func(e *core.RecordEvent) error {
		cache.forget()
		return e.Next()
	}
	forgetCollection := func(e *core.CollectionEvent) error {
		cache.forget()
		return e.Next()
	}
	app.OnRecordAfterUpdateSuccess(crm.Users).BindFunc(forget)
	app.OnRecordAfterDeleteSuccess(crm.Users).BindFunc(forget)
	app.OnCollectionAfterUpdateSuccess(crm.Users).BindFunc(forgetCollection)
	app.OnCollectionAfterDeleteSuccess(crm.Users).BindFunc(forgetCollection)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		// in place of PocketBase's loadAuthToken (at its priority), so that a
		// token the cache lacks, or a bad one, is checked once. Its own id:
		// Unbind excludes PocketBase's id from every route already added,
		// and a later Bind of that id would not undo it there.
		se.Router.Unbind(apis.DefaultLoadAuthTokenMiddlewareId)
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       "roundsLoadAuthToken",
			Priority: apis.DefaultLoadAuthTokenMiddlewarePriority,
			Func: func(e *core.RequestEvent) error {
				if e.Auth != nil {
					return e.Next()
				}
				token := requestToken(e)
				if token == "" {
					return e.Next()
				}
				remember := !tokensOff.Load()
				if remember {
					if record := cache.get(token); record != nil {
						e.Auth = record
						return e.Next()
					}
				}
				gen := cache.gen()
				record, err := e.App.FindAuthRecordByToken(token, core.TokenTypeAuth)
				if err != nil {
					// a failed read of the user is not a bad token (and a 401
					// signs a phone out): read the user again to tell them apart
					found, failed := readUser(e.App, token)
					if failed != nil {
						e.App.Logger().Warn("auth token check could not read the user", "error", failed)
						return e.Error(http.StatusServiceUnavailable, "The server could not check your sign-in just now; try again in a moment.", nil)
					}
					if found { // the first read may have failed a moment ago
						record, err = e.App.FindAuthRecordByToken(token, core.TokenTypeAuth)
					}
				}
				if err != nil {
					e.App.Logger().Debug("loadAuthToken failure", "error", err) // as PocketBase's check
					return e.Next()
				}
				if record == nil {
					return e.Next()
				}
				e.Auth = record
				if remember && record.Collection().Name == crm.Users {
					if claims, err := security.ParseUnverifiedJWT(token); err == nil {
						if exp, ok := claims["exp"].(float64); ok {
							cache.put(token, record, int64(exp), gen)
						}
					}
				}
				return e.Next()
			},
		})
		return se.Next()
	})
}

// readUser reads the user a token names: found when it is there, err
// when the database failed (not for a token without those claims, or one
// naming no user: PocketBase answers those as if no token had been sent,
// which a client takes as signed out).
func readUser(app core.App, token string) (found bool, err error) {
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return false, nil
	}
	id, _ := claims[core.TokenClaimId].(string)
	collection, _ := claims[core.TokenClaimCollectionId].(string)
	if id == "" || collection == "" {
		return false, nil
	}
	switch _, err := app.FindRecordById(collection, id); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// requestToken is the request's auth token, as PocketBase reads it.
func requestToken(e *core.RequestEvent) string {
	token := e.Request.Header.Get("Authorization")
	if len(token) > 7 && strings.EqualFold(token[:7], "Bearer ") {
		return token[7:]
	}
	return token
}
