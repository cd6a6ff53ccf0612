package crm

import (
	"fmt"
	"time"
)

// Stored is a record the rules only read: a stored version, a related
// record.
type Stored interface {
	GetString(field string) string
	GetFloat(field string) float64
	GetInt(field string) int
}

// Record is what the record rules read and write; PocketBase's *core.Record
// satisfies it.
type Record interface {
	Stored
	Set(field string, value any)
}

// Finder loads a related record; it returns (nil, nil) when there is none.
type Finder func(collection, id string) (Stored, error)

// FieldError is a rule broken by one field's value.
type FieldError struct {
	Field, Code, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldError(field, code, format string, args ...any) error {
	return &FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
}

// PrepareUser checks a user's time zone and, when it is set or changed,
// their manager (orig is the stored version, nil for a new user). A manager
// who lost the role before demotions were refused stays on their old
// reports' records without blocking every later edit of them; the access
// rules look at the role, so the stale link grants nothing.
func PrepareUser(find Finder, id string, r Record, orig Stored) error {
	if err := CheckTimezone(r.GetString("timezone")); err != nil {
		return fieldError("timezone", "invalid_timezone", "%v", err)
	}
	managerID := r.GetString("manager")
	if managerID == "" || (orig != nil && orig.GetString("manager") == managerID) {
		return nil
	}
	if managerID == id {
		return fieldError("manager", "self_manager", "a user cannot be their own manager")
	}
	manager, err := find(Users, managerID)
	if err != nil {
		return err
	}
	if manager != nil && manager.GetString("role") != RoleManager {
		return fieldError("manager", "not_a_manager", "user %s is not a manager", managerID)
	}
	return nil
}

// PrepareCustomer gives a new customer the default tier and checks the
// time zone.
func PrepareCustomer(r Record, isNew bool) error {
	if isNew && r.GetString("tier") == "" {
		r.Set("tier", DefaultTier)
	}
	if err := CheckTimezone(r.GetString("timezone")); err != nil {
		return fieldError("timezone", "invalid_timezone", "%v", err)
	}
	return nil
}

// PrepareContact checks the birthday (in its calendar) and the time zone.
func PrepareContact(r Record) error {
	check := CheckBirthday
	if r.GetString("birthday_calendar") == "lunar" {
		check = CheckLunarDay
	}
	if err := check(r.GetString("birthday")); err != nil {
		return fieldError("birthday", "invalid_birthday", "%v", err)
	}
	if err := CheckTimezone(r.GetString("timezone")); err != nil {
		return fieldError("timezone", "invalid_timezone", "%v", err)
	}
	return nil
}

// PrepareCampaign checks a campaign's day of the year, in its calendar.
func PrepareCampaign(r Record) error {
	check := CheckBirthday
	if r.GetString("calendar") == "lunar" {
		check = CheckLunarDay
	}
	if err := check(r.GetString("date")); err != nil {
		return fieldError("date", "invalid_date", "%v", err)
	}
	return nil
}

// sameCustomer checks that the records r links to through fields belong to
// r's own customer. orig is the stored version (nil for a new record);
// links that did not change are not looked up again.
func sameCustomer(find Finder, r, orig Stored, fields map[string]string) error {
	customerID := r.GetString("customer")
	for field, collection := range fields {
		id := r.GetString(field)
		if id == "" || (orig != nil && id == orig.GetString(field) && customerID == orig.GetString("customer")) {
			continue
		}
		target, err := find(collection, id)
		if err != nil {
			return err
		}
		if target != nil && target.GetString("customer") != customerID {
			return fieldError(field, "other_customer", "%s %s belongs to another customer", collection, id)
		}
	}
	return nil
}

// ownerDefault fills an empty user field with the customer's owner and
// returns the customer.
func ownerDefault(find Finder, r Record, field string) (Stored, error) {
	customer, err := find(Customers, r.GetString("customer"))
	if err != nil || customer == nil {
		return customer, err
	}
	if r.GetString(field) == "" {
		r.Set(field, customer.GetString("owner"))
	}
	return customer, nil
}

// PrepareVisit defaults the rep, keeps the contact within the customer and
// computes geo_status.
func PrepareVisit(find Finder, r Record, orig Stored) error {
	customer, err := ownerDefault(find, r, "rep")
	if err != nil {
		return err
	}
	if err := sameCustomer(find, r, orig, map[string]string{"contact": Contacts}); err != nil {
		return err
	}
	status := GeoUnknown
	if customer != nil {
		status = GeoStatus(
			Point{Lat: r.GetFloat("check_in_lat"), Lng: r.GetFloat("check_in_lng")},
			Point{Lat: customer.GetFloat("lat"), Lng: customer.GetFloat("lng")},
		)
	}
	r.Set("geo_status", status)
	return nil
}

// PrepareFollowUp defaults the assignee and status, keeps who promised it
// (promised_by: the assignee when it was made, never changed), and keeps
// the links within the customer.
func PrepareFollowUp(find Finder, r Record, orig Stored) error {
	if _, err := ownerDefault(find, r, "assignee"); err != nil {
		return err
	}
	// who promised it stays, whoever holds it later (a hand-over moves the
	// assignee, not the promise's author)
	switch {
	case orig != nil && orig.GetString("promised_by") != "":
		r.Set("promised_by", orig.GetString("promised_by"))
	case r.GetString("promised_by") == "":
		r.Set("promised_by", r.GetString("assignee"))
	}
	if r.GetString("status") == "" {
		r.Set("status", "open")
	}
	return sameCustomer(find, r, orig, map[string]string{"contact": Contacts, "visit": Visits})
}

// PrepareOrder defaults the rep and status, keeps status moves legal and
// stamps submitted_at with now. The total is the caller's (see SumCents).
func PrepareOrder(find Finder, r Record, orig Stored, submittedAt func() time.Time) error {
	if _, err := ownerDefault(find, r, "rep"); err != nil {
		return err
	}
	if err := sameCustomer(find, r, orig, map[string]string{"visit": Visits, "opportunity": Opportunities}); err != nil {
		return err
	}
	status := r.GetString("status")
	if status == "" {
		status = StatusDraft
		r.Set("status", status)
	}
	if orig != nil {
		if err := CheckStatusMove(orig.GetString("status"), status); err != nil {
			return fieldError("status", "invalid_status_move", "%v", err)
		}
	}
	if status == StatusSubmitted && r.GetString("submitted_at") == "" {
		r.Set("submitted_at", submittedAt().UTC())
	}
	return nil
}

// PriceLine prices an order line from its product and discount.
func PriceLine(find Finder, r Record) error {
	product, err := find(Products, r.GetString("product"))
	if err != nil || product == nil {
		return err
	}
	order, err := find(Orders, r.GetString("order"))
	if err != nil {
		return err
	}
	if order != nil && product.GetString("currency") != order.GetString("currency") {
		return fieldError("product", "currency_mismatch", "product %s is priced in %s but the order is in %s",
			product.GetString("sku"), product.GetString("currency"), order.GetString("currency"))
	}
	price := product.GetFloat("unit_price")
	r.Set("unit_price", price)
	r.Set("line_total", LineTotal(price, int64(r.GetInt("quantity")), r.GetFloat("discount_pct")))
	return nil
}

// SumCents adds line totals in cents, so that a total is exactly the sum of
// its lines.
func SumCents(lineTotals []float64) float64 {
	var cents int64
	for _, t := range lineTotals {
		cents += Cents(t)
	}
	return Amount(cents)
}

// CheckDemotion refuses to take the manager role from a user whom reports
// (users) still report to.
func CheckDemotion(reports int) error {
	if reports == 0 {
		return nil
	}
	return fieldError("role", "manager_has_reports",
		"%d user(s) still report to this manager: give them another manager (or none) before changing the role", reports)
}

// CheckCurrencyChange refuses to change the currency of an order that has
// lines: they are priced in the old currency, and a total must not mix two.
func CheckCurrencyChange(from, to string, lines int) error {
	if from == to || lines == 0 {
		return nil
	}
	return fieldError("currency", "currency_locked",
		"the order has %d line(s) priced in %s; remove them before switching to %s", lines, from, to)
}
