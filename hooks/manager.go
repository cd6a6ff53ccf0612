package hooks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/crm"
	"rounds/manager"
	"rounds/policy"
)

// pageSecurity is the content policy of the managers' page: its own
// scripts, styles and API only; never framed; no address sent on.
const pageSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// serveEmbedded serves embedded files at prefix/ (prefix alone redirects there)
// under a content policy: never sniffed, no address sent on, and revalidated
// on every load (no-cache), so that a new build is picked up at once.
func serveEmbedded(se *core.ServeEvent, prefix string, files fs.FS, policy string) {
	se.Router.GET(prefix, func(e *core.RequestEvent) error {
		return e.Redirect(http.StatusMovedPermanently, prefix+"/")
	})
	se.Router.GET(prefix+"/{path...}", apis.Static(files, false)).BindFunc(func(e *core.RequestEvent) error {
		h := e.Response.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		return e.Next()
	})
}

// registerManager serves the managers' page and its one write: handing a
// customer from one rep of the team to another.
func registerManager(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		serveEmbedded(se, "/manager", manager.Files(), pageSecurity)
		se.Router.POST("/api/manager/hand-over", handleHandOver)
		return se.Next()
	})
}

// handOverRequest is the body of POST /api/manager/hand-over.
type handOverRequest struct {
	Customer string `json:"customer"`
	To       string `json:"to"`
}

// handedByKey carries who handed a customer over into the owner-change
// hook, which records it in the customer's timeline.
type handedByKey struct{}

// handleHandOver moves a customer to another rep when the policy lets the
// caller (policy.HandsOver): the territory hook hands the open follow-ups
// on and the sync carries the change to both phones. It answers the
// customer's id and new owner.
func handleHandOver(e *core.RequestEvent) error {
	actor := actorOf(e.Auth)
	if actor.Role != policy.Superuser && !actor.SignedIn() {
		return router.NewUnauthorizedError("Sign in with an active manager's account.", nil)
	}
	var req handOverRequest
	if err := e.BindBody(&req); err != nil {
		return router.NewBadRequestError(`The body must be JSON: {"customer": "<customer id>", "to": "<rep id>"}.`, nil)
	}
	req.Customer, req.To = strings.TrimSpace(req.Customer), strings.TrimSpace(req.To)
	switch {
	case req.Customer == "":
		return router.NewBadRequestError(`The field "customer" is required: the id of the customer to hand over.`, nil)
	case req.To == "":
		return router.NewBadRequestError(`The field "to" is required: the id of the rep who takes the customer.`, nil)
	}
	var owner string
	err := e.App.RunInTransaction(func(tx core.App) error {
		res := dbResolver{tx}
		if !policy.For(crm.Customers).Reads(actor, res, req.Customer) {
			return router.NewNotFoundError(fmt.Sprintf("customer %q was not found among your team's customers.", clipQuery(req.Customer)), nil)
		}
		if !policy.HandsOver(actor, res, req.Customer, req.To) {
			return router.NewForbiddenError(policy.HandOverRefusal(actor, res, req.Customer, clipQuery(req.To))+".", nil)
		}
		customer, err := tx.FindRecordById(crm.Customers, req.Customer)
		if err != nil {
			return err
		}
		customer.Set("owner", req.To)
		ctx := e.Request.Context()
		if actor.Role == policy.Manager {
			ctx = context.WithValue(ctx, handedByKey{}, actor.ID)
		}
		if err := tx.SaveWithContext(ctx, customer); err != nil {
			return fmt.Errorf("hand over %s: %w", req.Customer, err)
		}
		owner = req.To
		return nil
	})
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			return apiErr
		}
		return router.NewInternalServerError("The customer could not be handed over; nothing changed.", err)
	}
	return e.JSON(http.StatusOK, map[string]string{"customer": req.Customer, "owner": owner})
}
