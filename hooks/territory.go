package hooks

import (
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	rsync "rounds/sync"
)

// registerTerritory: when a customer changes owner (an admin or a manager
// hands it over, on any path), the open follow-ups the previous owner held
// go to the new one in the same transaction, and the new owner is told by
// push what was promised.
func registerTerritory(app core.App, deps Deps) {
	app.OnRecordUpdate(crm.Customers).BindFunc(func(e *core.RecordEvent) error {
		from, to := e.Record.Original().GetString("owner"), e.Record.GetString("owner")
		if from == to || from == "" || to == "" {
			return e.Next()
		}
		return e.App.RunInTransaction(func(tx core.App) error {
			e.App = tx
			if err := e.Next(); err != nil {
				return err
			}
			by, _ := e.Context.Value(handedByKey{}).(string) // the manager, on the managers' page
			if err := customerEvent(tx, e.Record.Id, crm.EventOwnerChange, "handed from "+nameOf(tx, from)+" to "+nameOf(tx, to), by, deps.Now()); err != nil {
				return err
			}
			if err := voidInvites(tx, "customer = {:c}", e.Record.Id, deps.Now()); err != nil {
				return err
			}
			return handOverFollowUps(tx, e.Record, from, to)
		})
	})
	// a contact moved to another customer (an admin's edit): its invites die too
	app.OnRecordUpdate(crm.Contacts).BindFunc(func(e *core.RecordEvent) error {
		if e.Record.Original().GetString("customer") == e.Record.GetString("customer") {
			return e.Next()
		}
		return e.App.RunInTransaction(func(tx core.App) error {
			e.App = tx
			if err := e.Next(); err != nil {
				return err
			}
			return voidInvites(tx, "id = {:c}", e.Record.Id, deps.Now())
		})
	})
}

// voidInvites ends, for good, every unused invite of the contacts that
// match where (with {:c} bound to id): an invite is the word of the rep who
// made it, and dies when its customer leaves them, even if it comes back.
func voidInvites(tx core.App, where, id string, now time.Time) error {
	_, err := tx.NonconcurrentDB().NewQuery(`UPDATE ` + crm.CareInvites + ` SET voided_at = {:now}
		WHERE used_at = '' AND voided_at = '' AND contact IN (SELECT id FROM ` + crm.Contacts + ` WHERE ` + where + `)`).
		Bind(dbx.Params{"c": id, "now": now.UTC().Format(types.DefaultDateLayout)}).Execute()
	if err != nil {
		return fmt.Errorf("void the invites of %s: %w", id, err)
	}
	return nil
}

func handOverFollowUps(tx core.App, customer *core.Record, from, to string) error {
	open, err := tx.FindAllRecords(crm.FollowUps, dbx.HashExp{"customer": customer.Id, "assignee": from, "status": crm.FollowUpOpen})
	if err != nil {
		return fmt.Errorf("hand over follow-ups of %s: %w", customer.Id, err)
	}
	if len(open) == 0 {
		return nil
	}
	ids, notes := make([]string, 0, len(open)), make([]string, 0, len(open))
	for _, f := range open {
		f.Set("assignee", to)
		if err := tx.Save(f); err != nil {
			return fmt.Errorf("hand over follow-up %s: %w", f.Id, err)
		}
		ids, notes = append(ids, f.Id), append(notes, f.GetString("note"))
	}
	save := func(r *core.Record) error { return tx.Save(r) }
	return rsync.TellHandOver(tx, save, customer.Id, customer.GetString("name"), from, to, ids, notes)
}

// customerEvent records what happened to a customer (a territory or tier
// change) for its timeline; user is who did it ("" for the office or a job).
func customerEvent(tx core.App, customer, kind, summary, user string, at time.Time) error {
	c, err := tx.FindCachedCollectionByNameOrId(crm.CustomerEvents)
	if err != nil {
		return err
	}
	r := core.NewRecord(c)
	r.Load(map[string]any{"customer": customer, "kind": kind, "summary": summary, "user": user, "at": at.UTC()})
	return tx.Save(r)
}

// nameOf is a user's name, for a sentence ("someone" if unknown).
func nameOf(app core.App, user string) string {
	if u, err := app.FindRecordById(crm.Users, user); err == nil && u.GetString("name") != "" {
		return u.GetString("name")
	}
	return "someone"
}
