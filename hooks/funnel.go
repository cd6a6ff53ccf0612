package hooks

import (
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	rsync "rounds/sync"
)

// registerFunnel keeps opportunities consistent on every path (REST, the
// dashboard, seeds; a sync push applies the same rules itself): the
// server's fields from the stage, and a line of history written in the
// same transaction as each change of stage, amount or expected close.
func registerFunnel(app core.App, deps Deps) {
	h := func(e *core.RecordEvent) error {
		var history bool
		return inTx(e, func(app core.App, r *core.Record) error {
			var err error
			history, err = crm.PrepareOpportunity(finder(app), r, original(r), deps.Now())
			return fieldErr(err)
		}, func(app core.App, r *core.Record) error {
			if !history {
				return nil
			}
			save := func(h *core.Record) error { return app.Save(h) }
			return rsync.StageHistory(app, save, r, r.GetString("changed_by"), deps.Now())
		})
	}
	app.OnRecordCreate(crm.Opportunities).BindFunc(h)
	app.OnRecordUpdate(crm.Opportunities).BindFunc(h)

	// who changed it: the signed-in rep, or "" for the office (superusers)
	who := func(e *core.RecordRequestEvent) error {
		changedBy := ""
		if e.Auth != nil && e.Auth.Collection().Name == crm.Users {
			changedBy = e.Auth.Id
		}
		e.Record.Set("changed_by", changedBy)
		return e.Next()
	}
	app.OnRecordCreateRequest(crm.Opportunities).BindFunc(who)
	app.OnRecordUpdateRequest(crm.Opportunities).BindFunc(who)

}
