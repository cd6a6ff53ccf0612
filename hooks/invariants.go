package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
)

// registerInvariants binds the model hooks that keep the data consistent
// whichever path writes it: REST, the dashboard, sync, seeds and migrations.
// They run before PocketBase's own validation, so a violation comes back as
// a 400 with the offending field named.
func registerInvariants(app core.App, deps Deps) {
	onSave(app, crm.Users, func(app core.App, r *core.Record) error {
		if err := crm.PrepareUser(finder(app), r.Id, r, original(r)); err != nil {
			return err
		}
		return checkDemotion(app, r)
	})
	app.OnRecordDelete(crm.Users).BindFunc(func(e *core.RecordEvent) error {
		if err := checkUserDelete(e.App, e.Record); err != nil {
			return err
		}
		return e.Next()
	})
	onSave(app, crm.Customers, func(app core.App, r *core.Record) error { return crm.PrepareCustomer(r, r.IsNew()) })
	onSave(app, crm.Contacts, func(app core.App, r *core.Record) error { return crm.PrepareContact(r) })
	onSave(app, crm.CareCampaigns, func(app core.App, r *core.Record) error { return crm.PrepareCampaign(r) })
	onSave(app, crm.Visits, func(app core.App, r *core.Record) error { return crm.PrepareVisit(finder(app), r, original(r)) })
	onSave(app, crm.FollowUps, func(app core.App, r *core.Record) error { return crm.PrepareFollowUp(finder(app), r, original(r)) })
	onSave(app, crm.Orders, func(app core.App, r *core.Record) error {
		if err := crm.PrepareOrder(finder(app), r, original(r), deps.Now); err != nil {
			return err
		}
		if !r.IsNew() && r.GetString("currency") != r.Original().GetString("currency") {
			n, err := countWhere(app, crm.OrderLines, "order", r.Id)
			if err != nil {
				return err
			}
			if err := crm.CheckCurrencyChange(r.Original().GetString("currency"), r.GetString("currency"), n); err != nil {
				return err
			}
		}
		if r.IsNew() {
			r.Set("total", 0) // a new order has no lines yet
			return nil
		}
		total, err := sumLines(app, r.Id)
		r.Set("total", total)
		return err
	})

	// Order lines change an order's total: the line and the total are
	// written in one transaction.
	price := func(app core.App, r *core.Record) error { return fieldErr(crm.PriceLine(finder(app), r)) }
	app.OnRecordCreate(crm.OrderLines).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, price, func(app core.App, r *core.Record) error {
			return syncOrderTotal(app, r.GetString("order"))
		})
	})
	app.OnRecordUpdate(crm.OrderLines).BindFunc(func(e *core.RecordEvent) error {
		return inTx(e, price, func(app core.App, r *core.Record) error {
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

// onSave runs check before every create and update of collection, with
// the app of the write (its transaction, if any).
func onSave(app core.App, collection string, check recordFunc) {
	h := func(e *core.RecordEvent) error {
		if err := fieldErr(check(e.App, e.Record)); err != nil {
			return err
		}
		return e.Next()
	}
	app.OnRecordCreate(collection).BindFunc(h)
	app.OnRecordUpdate(collection).BindFunc(h)
}

// original is the stored version of r, or nil for a new record.
func original(r *core.Record) crm.Stored {
	if r.IsNew() {
		return nil
	}
	return r.Original()
}

// finder looks related records up in app's database.
func finder(app core.App) crm.Finder {
	return func(collection, id string) (crm.Stored, error) {
		r, err := findOptional(app, collection, id)
		if r == nil || err != nil {
			return nil, err
		}
		return r, nil
	}
}

// fieldErr turns a broken rule into PocketBase's validation error, which
// the API answers with 400 and {"data": {field: {code, message}}}.
func fieldErr(err error) error {
	var fe *crm.FieldError
	if errors.As(err, &fe) {
		return validation.Errors{fe.Field: validation.NewError("validation_"+fe.Code, fe.Message)}
	}
	return err
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

// sumLines is the total of an order's lines, summed in cents.
func sumLines(app core.App, orderID string) (float64, error) {
	var totals []float64
	err := app.DB().Select("line_total").From(crm.OrderLines).
		Where(dbx.HashExp{"order": orderID}).Column(&totals)
	if err != nil {
		return 0, fmt.Errorf("sum lines of order %s: %w", orderID, err)
	}
	return crm.SumCents(totals), nil
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

// checkDemotion refuses to take the manager role from a user whom others
// still report to: their reps would point at a non-manager (and every later
// edit of them would fail), and a demoted manager must not keep a team.
// Admins move the reps to another manager first.
func checkDemotion(app core.App, r *core.Record) error {
	if r.IsNew() || r.Original().GetString("role") != crm.RoleManager || r.GetString("role") == crm.RoleManager {
		return nil
	}
	n, err := countWhere(app, crm.Users, "manager", r.Id)
	if err != nil {
		return err
	}
	return crm.CheckDemotion(n)
}

// checkUserDelete refuses to delete a user who owns customers or holds open
// follow-ups, saying how many and what to do: their work is handed over
// first. A user still named by the shared history (visits, orders, done
// follow-ups: the relations PocketBase would refuse to empty) is not
// deleted either; a rep who leaves is deactivated, which keeps it.
func checkUserDelete(app core.App, r *core.Record) error {
	customers, err := countWhere(app, crm.Customers, "owner", r.Id)
	if err != nil {
		return err
	}
	var open int
	if err := app.DB().Select("COUNT(*)").From(crm.FollowUps).Where(dbx.HashExp{"assignee": r.Id, "status": "open"}).Row(&open); err != nil {
		return err
	}
	name := r.GetString("name")
	if name == "" {
		name = r.GetString("email")
	}
	const deactivate = "To let a rep go, deactivate the account instead (active off): it signs them out everywhere and keeps the history of what they did."
	if customers > 0 || open > 0 {
		return apis.NewBadRequestError(fmt.Sprintf("%s owns %d customer%s and holds %d open follow-up%s: a manager or an admin hands them to another rep first "+
			"(a manager on the managers' page; an admin by changing each customer's owner in the dashboard). "+deactivate,
			name, customers, plural(customers), open, plural(open)), nil)
	}
	var named []string
	collections, err := app.FindAllCollections(core.CollectionTypeBase, core.CollectionTypeAuth)
	if err != nil {
		return err
	}
	for _, c := range collections {
		for _, f := range c.Fields {
			rel, ok := f.(*core.RelationField)
			if !ok || rel.CollectionId != r.Collection().Id || rel.CascadeDelete || !rel.Required || c.Id == r.Collection().Id {
				continue
			}
			n, err := countWhere(app, c.Name, rel.Name, r.Id)
			if err != nil {
				return err
			}
			if n > 0 {
				named = append(named, fmt.Sprintf("%d %s", n, strings.ReplaceAll(c.Name, "_", " ")))
			}
		}
	}
	if len(named) == 0 {
		return nil
	}
	return apis.NewBadRequestError(fmt.Sprintf("%s is named in the shared history (%s): deleting them would leave it without its author. %s",
		name, strings.Join(named, ", "), deactivate), nil)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// countWhere counts the records of collection whose field is value.
func countWhere(app core.App, collection, field, value string) (int, error) {
	var n int
	err := app.DB().Select("COUNT(*)").From(collection).Where(dbx.HashExp{field: value}).Row(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s by %s: %w", collection, field, err)
	}
	return n, nil
}
