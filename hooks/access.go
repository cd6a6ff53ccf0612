package hooks

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/crm"
)

// parentOf names, per collection a rep writes, the relation that ties a
// record to its place in the scope. Reps cannot move records between parents.
var parentOf = map[string]string{
	crm.Contacts:   "customer",
	crm.Visits:     "customer",
	crm.FollowUps:  "customer",
	crm.Orders:     "customer",
	crm.OrderLines: "order",
}

// authorField names the user field a rep's own writes are stamped with.
var authorField = map[string]string{
	crm.Customers: "owner",
	crm.Visits:    "rep",
	crm.Orders:    "rep",
	crm.FollowUps: "assignee",
}

// registerAccess binds what API rules cannot say: server-owned fields, the
// author of a record, immutable parents, and deactivated accounts. The API
// rules (in the migration) decide which records a user reaches at all; these
// hooks decide what a rep may send. Superusers (the dashboard) are trusted.
func registerAccess(app core.App) {
	guard := func(e *core.RecordRequestEvent) error {
		if e.HasSuperuserAuth() || e.Auth == nil {
			return e.Next()
		}
		if err := checkRepWrite(e.App, e.Auth, e.Record); err != nil {
			return err
		}
		return e.Next()
	}
	repWritable := []string{crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Orders, crm.OrderLines}
	app.OnRecordCreateRequest(repWritable...).BindFunc(guard)
	app.OnRecordUpdateRequest(repWritable...).BindFunc(guard)

	app.OnRecordUpdateRequest(crm.Users).BindFunc(func(e *core.RecordRequestEvent) error {
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		for _, f := range []string{"role", "manager", "active"} {
			if changed(e.Record, f) {
				return router.NewForbiddenError(fmt.Sprintf("The field users.%s is managed by admins", f), nil)
			}
		}
		return e.Next()
	})

	// A token issued before an account was deactivated stops working at once.
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
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

// checkRepWrite decides whether a rep (auth) may write r as it stands,
// filling in the fields the server assigns. It returns a 403 naming the
// field for forged server-owned values and illegal moves, and a 400 for
// inactive products. r.IsNew() tells a create from an update.
func checkRepWrite(app core.App, auth, r *core.Record) error {
	collection := r.Collection().Name

	if f, ok := authorField[collection]; ok {
		switch v := r.GetString(f); {
		case r.IsNew() && (v == "" || v == auth.Id):
			r.Set(f, auth.Id)
		case r.IsNew() || changed(r, f):
			return router.NewForbiddenError(fmt.Sprintf("The field %s.%s is set by the server to the signed-in user; it cannot name someone else", collection, f), nil)
		}
	}

	blank := core.NewRecord(r.Collection())
	for _, f := range crm.ServerOwned[collection] {
		if f == authorField[collection] {
			continue
		}
		base := blank
		if !r.IsNew() {
			base = r.Original()
		}
		if fmt.Sprint(r.Get(f)) != fmt.Sprint(base.Get(f)) {
			return router.NewForbiddenError(fmt.Sprintf("The field %s.%s is set by the server and cannot be sent by a rep", collection, f), nil)
		}
	}

	if p, ok := parentOf[collection]; ok && !r.IsNew() && changed(r, p) {
		return router.NewForbiddenError(fmt.Sprintf("The field %s.%s cannot be changed: a record stays with its %s", collection, p, p), nil)
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
