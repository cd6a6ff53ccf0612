package sync

import (
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// StageHistory writes a line of an opportunity's history, in the
// transaction of the change (tx): the open line is closed at now and a new
// one opens with the stage, amount and expected close the opportunity has
// now, and who changed it (user; "" for the office). insert writes the new
// record: the push's store, or tx.Save for the other paths. Every path
// calls it: REST and the dashboard through a model hook, a sync push here.
func StageHistory(tx core.App, insert func(*core.Record) error, opp *core.Record, user string, now time.Time) error {
	if _, err := tx.NonconcurrentDB().NewQuery("UPDATE " + crm.OpportunityHistory + " SET left_at = {:now} WHERE opportunity = {:o} AND left_at = ''").
		Bind(dbx.Params{"now": now.UTC().Format(types.DefaultDateLayout), "o": opp.Id}).Execute(); err != nil {
		return fmt.Errorf("close the history of %s: %w", opp.Id, err)
	}
	c, err := tx.FindCachedCollectionByNameOrId(crm.OpportunityHistory)
	if err != nil {
		return err
	}
	h := core.NewRecord(c)
	h.Load(map[string]any{
		"opportunity": opp.Id, "stage": opp.GetString("stage"), "amount": opp.GetFloat("amount"),
		"expected_close": opp.GetString("expected_close"), "entered_at": now.UTC(), "user": user,
	})
	if err := insert(h); err != nil {
		return fmt.Errorf("history of %s: %w", opp.Id, err)
	}
	return nil
}
