package hooks

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"rounds/crm"
	"rounds/policy"
)

// registerAccess binds what API rules cannot say, from the same policy the
// rules derive from (package policy): the fields a writer may not set, the
// author of a record, fields that never move, and deactivated accounts.
// The API rules decide which records a user reaches at all; these hooks
// decide what a user may send. Superusers (the dashboard) are trusted.
func registerAccess(app core.App) {
	closed := newClosedStreams()
	app.OnRealtimeConnectRequest().BindFunc(closed.refuseReconnect)
	guard := func(e *core.RecordRequestEvent) error {
		if e.HasSuperuserAuth() || e.Auth == nil {
			return e.Next()
		}
		if err := checkWrite(e.App, e.Auth, e.Record); err != nil {
			return err
		}
		return e.Next()
	}
	for _, s := range policy.Specs {
		if len(s.Writers) > 0 {
			app.OnRecordCreateRequest(s.Name).BindFunc(guard)
			app.OnRecordUpdateRequest(s.Name).BindFunc(guard)
		}
	}

	// The scope columns are the database's bookkeeping for the read rules:
	// no answer carries them, a superuser's neither (PocketBase shows hidden
	// fields to superusers, and the answer to a create showed them empty,
	// before the database had filled them).
	var scoped []string
	for _, s := range policy.ScopeSpecs() {
		scoped = append(scoped, s.Name)
	}
	app.OnRecordEnrich(scoped...).BindFunc(func(e *core.RecordEnrichEvent) error {
		r := e.Record // the event moves on to the next record of a list
		if err := e.Next(); err != nil {
			return err
		}
		r.Hide(policy.ScopeOwner, policy.ScopeTeam)
		return nil
	})

	// A deactivated account signs in no more than a wrong password does:
	// the same 400, so that the answer tells nothing about the password.
	app.OnRecordAuthWithPasswordRequest(crm.Users).BindFunc(func(e *core.RecordAuthWithPasswordRequestEvent) error {
		if e.Record != nil && !e.Record.GetBool("active") {
			return router.NewBadRequestError("Failed to authenticate.", nil)
		}
		return e.Next()
	})

	// A realtime stream of a user who is deactivated, demoted or promoted
	// is closed at once, with a last event that says why; the client
	// reconnects with what its token now allows. (PocketBase refreshes a
	// stream's auth record and the rules look at active and role, so events
	// stop anyway; the stream itself should not outlive the change.) The
	// stream of a deactivated user stays closed: a browser's EventSource
	// reconnects by itself, sending the closed stream's id as Last-Event-ID,
	// and that reconnect is answered 401, which ends its retries.
	app.OnRecordUpdate(crm.Users).BindFunc(func(e *core.RecordEvent) error {
		old := e.Record.Original()
		deactivated := !e.Record.GetBool("active")
		drop := deactivated || old.GetString("role") != e.Record.GetString("role")
		if err := e.Next(); err != nil || !drop {
			return err
		}
		reason := "role_changed"
		if deactivated {
			reason = "deactivated"
		}
		for _, id := range dropStreams(e.App, e.Record.Id, reason) {
			if deactivated {
				closed.add(id)
			}
		}
		return nil
	})

	// A token issued before an account was deactivated stops working at once.
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		warnRuleDrift(se.App)
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			if err := checkRecordWriteTypes(e); err != nil {
				return err
			}
			if e.Auth != nil && e.Auth.Collection().Name == crm.Users && !e.Auth.GetBool("active") {
				return router.NewUnauthorizedError("This account is deactivated; ask an admin to reactivate it.", nil)
			}
			return e.Next()
		})
		return se.Next()
	})
}

// checkWrite decides whether a user (auth) may write r as it stands,
// stamping the author. It returns a 403 naming the field for a field the
// policy keeps from writers, and a 400 for inactive products. r.IsNew()
// tells a create from an update.
func checkWrite(app core.App, auth, r *core.Record) error {
	collection := r.Collection().Name
	spec := policy.For(collection)
	blank := core.NewRecord(r.Collection())
	for _, f := range spec.Protected() {
		if r.Collection().Fields.GetByName(f) == nil {
			continue
		}
		switch spec.Field(f, r.IsNew()) {
		case policy.FieldFree:
			continue
		case policy.FieldStamped:
			if v := r.GetString(f); v == "" || v == auth.Id {
				r.Set(f, auth.Id)
				continue
			}
		default:
			base := blank
			if !r.IsNew() {
				base = r.Original()
			}
			if fmt.Sprint(r.Get(f)) == fmt.Sprint(base.Get(f)) {
				continue
			}
		}
		return router.NewForbiddenError(spec.FieldError(f, r.IsNew()), nil)
	}

	switch collection {
	case crm.Orders:
		status := r.GetString("status")
		allowed := status == "" || status == crm.StatusDraft || status == crm.StatusSubmitted ||
			(!r.IsNew() && status == crm.StatusCancelled)
		if !allowed {
			return router.NewForbiddenError(fmt.Sprintf("A rep cannot set an order to %q: reps submit or cancel drafts, the back office confirms and fulfils", status), nil)
		}
	case crm.OrderLines:
		if r.IsNew() || changed(r, "product") {
			product, err := findOptional(app, crm.Products, r.GetString("product"))
			if err != nil {
				return err
			}
			if product != nil && !product.GetBool("active") {
				return router.NewBadRequestError("Failed to save the order line.",
					fieldErr(&crm.FieldError{Field: "product", Code: "inactive_product", Message: fmt.Sprintf("product %s is no longer sold", product.GetString("sku"))}))
			}
		}
	}
	return nil
}

func changed(r *core.Record, field string) bool {
	return fmt.Sprint(r.Get(field)) != fmt.Sprint(r.Original().Get(field))
}

// checkRecordWriteTypes type-checks the raw body of a record create or
// update before PocketBase coerces it (the request hooks see coerced values).
func checkRecordWriteTypes(e *core.RequestEvent) error {
	if e.Request.Method != http.MethodPost && e.Request.Method != http.MethodPatch {
		return nil
	}
	p := e.Request.Pattern
	if !strings.HasSuffix(p, "/api/collections/{collection}/records") && !strings.HasSuffix(p, "/api/collections/{collection}/records/{id}") {
		return nil
	}
	collection, err := e.App.FindCachedCollectionByNameOrId(e.Request.PathValue("collection"))
	if err != nil || !slices.Contains(crm.Collections, collection.Name) {
		return nil // PocketBase answers unknown collections itself
	}
	info, err := e.RequestInfo()
	if err != nil {
		return router.NewBadRequestError("The request body is not valid JSON or form data.", err)
	}
	return checkBodyTypes(collection, info.Body)
}

// StreamClosedEvent is the last event of a realtime stream the server
// closes; its data is {"reason": "deactivated" | "role_changed"}.
const StreamClosedEvent = "rounds_stream_closed"

// dropStreams closes every realtime stream signed in as the user, each with
// a last StreamClosedEvent, and returns the ids of the streams it closed.
func dropStreams(app core.App, userID, reason string) []string {
	var ids []string
	for _, client := range app.SubscriptionsBroker().Clients() {
		auth, _ := client.Get(apis.RealtimeClientAuthKey).(*core.Record)
		if auth != nil && auth.Id == userID && auth.Collection().Name == crm.Users {
			client.Unset(apis.RealtimeClientAuthKey)
			client.Unsubscribe()
			ids = append(ids, client.Id())
			// the channel is unbuffered: the stream's loop takes the last
			// event, then finds the channel closed. Not in the caller's
			// transaction: a slow client must not hold the writer. (A
			// stream that ends first closes the channel; Send recovers.)
			go func() {
				client.Send(subscriptions.Message{Name: StreamClosedEvent, Data: []byte(`{"reason":"` + reason + `"}`)})
				client.Discard()
			}()
		}
	}
	return ids
}

// closedStreams remembers, for an hour, the streams closed because their
// user was deactivated, so that their automatic reconnects are refused.
type closedStreams struct {
	mu  gosync.Mutex
	ids map[string]time.Time
}

const closedStreamMemory = time.Hour

func newClosedStreams() *closedStreams { return &closedStreams{ids: map[string]time.Time{}} }

func (c *closedStreams) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if len(c.ids) >= 10000 {
		for k, at := range c.ids {
			if now.Sub(at) > closedStreamMemory || len(c.ids) >= 10000 {
				delete(c.ids, k)
			}
		}
	}
	c.ids[id] = now
}

func (c *closedStreams) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.ids[id]
	return ok && time.Since(at) < closedStreamMemory
}

// refuseReconnect answers 401 to a reconnect of a stream closed because
// its user was deactivated (Last-Event-ID names it).
func (c *closedStreams) refuseReconnect(e *core.RealtimeConnectRequestEvent) error {
	if id := e.Request.Header.Get("Last-Event-ID"); id != "" && c.has(id) {
		return router.NewUnauthorizedError("This stream was closed because its account was deactivated; ask an admin to reactivate it.", nil)
	}
	return e.Next()
}

// warnRuleDrift says at start-up which API rules differ from the policy
// (someone edited them in the dashboard): the policy's guards still hold,
// but the rules decide what is read, so a loosened rule leaks.
func warnRuleDrift(app core.App) {
	for _, s := range policy.Specs {
		c, err := app.FindCachedCollectionByNameOrId(s.Name)
		if err != nil {
			continue
		}
		stored := map[policy.Action]*string{policy.List: c.ListRule, policy.View: c.ViewRule,
			policy.Create: c.CreateRule, policy.Update: c.UpdateRule, policy.Delete: c.DeleteRule}
		for _, a := range policy.Actions {
			want, got := s.Rule(a), stored[a]
			if (want == nil) != (got == nil) || (want != nil && *want != *got) {
				app.Logger().Warn("access: an API rule differs from the policy (edited in the dashboard?); the policy's rule is the reviewed one",
					"collection", s.Name, "action", string(a))
			}
		}
	}
}
