package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
)

// registerInvariants binds the model hooks that keep the data consistent
// whichever path writes it: REST, the dashboard, sync, seeds and migrations.
// They run before PocketBase's own validation, so a violation comes back as
// a 400 with the offending field named.
func registerInvariants(app core.App, deps Deps) {
	onSave(app, crm.Users, checkUser)
	onSave(app, crm.Customers, checkCustomer)
	onSave(app, crm.Contacts, checkContact)
	onSave(app, crm.Visits, checkVisit)
	onSave(app, crm.FollowUps, checkFollowUp)
	onSave(app, crm.Orders, func(app core.App, r *core.Record) error { return checkOrder(app, r, deps.Now) })
	onSave(app, crm.CareCampaigns, checkCampaign)

	// Order lines change an order's total: the line and the total are
	// written in one transaction.
	app.OnRecordCreate(crm.OrderLines).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, priceLine, func(app core.App, r *core.Record) error {
			return syncOrderTotal(app, r.GetString("order"))
		})
	})
	app.OnRecordUpdate(crm.OrderLines).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, priceLine, func(app core.App, r *core.Record) error {
			if old := r.Original().GetString("order"); old != r.GetString("order") {
				if err := syncOrderTotal(app, old); err != nil {
					return err
				}
			}
			return syncOrderTotal(app, r.GetString("order"))
		})
	})
	app.OnRecordDelete(crm.OrderLines).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, nil, func(app core.App, r *core.Record) error {
			return syncOrderTotal(app, r.GetString("order"))
		})
	})
}

type recordFunc func(app core.App, r *core.Record) error

// onSave runs check before every create and update of collection.
func onSave(app core.App, collection string, check recordFunc) {
	h := func(e *core.RecordEvent) error {
		if err := check(e.App, e.Record); err != nil {
			return err
		}
		return e.Next()
	}
	app.OnRecordCreate(collection).BindFunc(h)
	app.OnRecordUpdate(collection).BindFunc(h)
}

// inTx runs before, the write itself and after in one transaction (joining
// the caller's transaction when there is one).
func inTx(e *core.RecordEvent, before, after recordFunc) error {
	original := e.App
	defer func() { e.App = original }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if before != nil {
			if err := before(tx, e.Record); err != nil {
				return err
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		return after(tx, e.Record)
	})
}

// fieldError is a validation error on one field; the API answers it with
// 400 and {"data": {field: {code, message}}}.
func fieldError(field, code, message string) error {
	return validation.Errors{field: validation.NewError("validation_"+code, message)}
}

// findOptional loads a record by id, returning nil when the id is empty or
// unknown (the field's own validation reports a missing relation).
func findOptional(app core.App, collection, id string) (*core.Record, error) {
	if id == "" {
		return nil, nil
	}
	r, err := app.FindRecordById(collection, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

func checkTimezone(r *core.Record) error {
	if err := crm.CheckTimezone(r.GetString("timezone")); err != nil {
		return fieldError("timezone", "invalid_timezone", err.Error())
	}
	return nil
}

func checkUser(app core.App, r *core.Record) error {
	if err := checkTimezone(r); err != nil {
		return err
	}
	managerID := r.GetString("manager")
	if managerID == "" {
		return nil
	}
	if managerID == r.Id {
		return fieldError("manager", "self_manager", "a user cannot be their own manager")
	}
	manager, err := findOptional(app, crm.Users, managerID)
	if err != nil {
		return err
	}
	if manager != nil && manager.GetString("role") != crm.RoleManager {
		return fieldError("manager", "not_a_manager", fmt.Sprintf("user %s is not a manager", managerID))
	}
	return nil
}

func checkCustomer(app core.App, r *core.Record) error {
	if r.IsNew() && r.GetString("tier") == "" {
		r.Set("tier", crm.DefaultTier)
	}
	return checkTimezone(r)
}

func checkContact(app core.App, r *core.Record) error {
	if err := crm.CheckBirthday(r.GetString("birthday")); err != nil {
		return fieldError("birthday", "invalid_birthday", err.Error())
	}
	return checkTimezone(r)
}

func checkCampaign(app core.App, r *core.Record) error {
	if err := crm.CheckBirthday(r.GetString("date")); err != nil {
		return fieldError("date", "invalid_date", err.Error())
	}
	return nil
}

// sameCustomer checks that the records r points to through fields belong to
// r's own customer, so that nothing links across customers (and scopes).
func sameCustomer(app core.App, r *core.Record, fields map[string]string) error {
	customerID := r.GetString("customer")
	for field, collection := range fields {
		id := r.GetString(field)
		if id == "" || (!r.IsNew() && id == r.Original().GetString(field) && customerID == r.Original().GetString("customer")) {
			continue
		}
		target, err := findOptional(app, collection, id)
		if err != nil {
			return err
		}
		if target != nil && target.GetString("customer") != customerID {
			return fieldError(field, "other_customer", fmt.Sprintf("%s %s belongs to another customer", collection, id))
		}
	}
	return nil
}

// defaultToOwner fills an empty user field with the customer's owner.
func defaultToOwner(app core.App, r *core.Record, field string) (*core.Record, error) {
	customer, err := findOptional(app, crm.Customers, r.GetString("customer"))
	if err != nil || customer == nil {
		return customer, err
	}
	if r.GetString(field) == "" {
		r.Set(field, customer.GetString("owner"))
	}
	return customer, nil
}

func checkVisit(app core.App, r *core.Record) error {
	customer, err := defaultToOwner(app, r, "rep")
	if err != nil {
		return err
	}
	if err := sameCustomer(app, r, map[string]string{"contact": crm.Contacts}); err != nil {
		return err
	}
	status := crm.GeoUnknown
	if customer != nil {
		status = crm.GeoStatus(
			crm.Point{Lat: r.GetFloat("check_in_lat"), Lng: r.GetFloat("check_in_lng")},
			crm.Point{Lat: customer.GetFloat("lat"), Lng: customer.GetFloat("lng")},
		)
	}
	r.Set("geo_status", status)
	return nil
}

func checkFollowUp(app core.App, r *core.Record) error {
	if _, err := defaultToOwner(app, r, "assignee"); err != nil {
		return err
	}
	if r.GetString("status") == "" {
		r.Set("status", "open")
	}
	return sameCustomer(app, r, map[string]string{"contact": crm.Contacts, "visit": crm.Visits})
}

// checkOrder keeps an order's status moves legal, stamps submitted_at with
// the server's clock, and recomputes the total from the lines.
func checkOrder(app core.App, r *core.Record, now func() time.Time) error {
	if _, err := defaultToOwner(app, r, "rep"); err != nil {
		return err
	}
	if err := sameCustomer(app, r, map[string]string{"visit": crm.Visits}); err != nil {
		return err
	}
	status := r.GetString("status")
	if status == "" {
		status = crm.StatusDraft
		r.Set("status", status)
	}
	if !r.IsNew() {
		if err := crm.CheckStatusMove(r.Original().GetString("status"), status); err != nil {
			return fieldError("status", "invalid_status_move", err.Error())
		}
	}
	if status == crm.StatusSubmitted && r.GetDateTime("submitted_at").IsZero() {
		r.Set("submitted_at", now().UTC())
	}
	if r.IsNew() {
		r.Set("total", 0) // a new order has no lines yet
		return nil
	}
	total, err := sumLines(app, r.Id)
	if err != nil {
		return err
	}
	r.Set("total", total)
	return nil
}

// priceLine prices a line from its product and discount.
func priceLine(app core.App, r *core.Record) error {
	product, err := findOptional(app, crm.Products, r.GetString("product"))
	if err != nil || product == nil {
		return err
	}
	order, err := findOptional(app, crm.Orders, r.GetString("order"))
	if err != nil {
		return err
	}
	if order != nil && product.GetString("currency") != order.GetString("currency") {
		return fieldError("product", "currency_mismatch", fmt.Sprintf(
			"product %s is priced in %s but the order is in %s",
			product.GetString("sku"), product.GetString("currency"), order.GetString("currency")))
	}
	price := product.GetFloat("unit_price")
	r.Set("unit_price", price)
	r.Set("line_total", crm.LineTotal(price, int64(r.GetInt("quantity")), r.GetFloat("discount_pct")))
	return nil
}

// sumLines is the total of an order's lines, summed in cents.
func sumLines(app core.App, orderID string) (float64, error) {
	var totals []float64
	err := app.DB().Select("line_total").From(crm.OrderLines).
		Where(dbx.HashExp{"order": orderID}).Column(&totals)
	if err != nil {
		return 0, fmt.Errorf("sum lines of order %s: %w", orderID, err)
	}
	var cents int64
	for _, t := range totals {
		cents += crm.Cents(t)
	}
	return crm.Amount(cents), nil
}

// syncOrderTotal saves the order when its stored total no longer matches
// its lines (the order hook recomputes the total). A missing order (being
// deleted together with its lines) is left alone.
func syncOrderTotal(app core.App, orderID string) error {
	order, err := findOptional(app, crm.Orders, orderID)
	if err != nil || order == nil {
		return err
	}
	total, err := sumLines(app, orderID)
	if err != nil {
		return err
	}
	if crm.Cents(order.GetFloat("total")) == crm.Cents(total) {
		return nil
	}
	if err := app.Save(order); err != nil {
		return fmt.Errorf("update total of order %s: %w", orderID, err)
	}
	return nil
}
