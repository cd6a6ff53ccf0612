package hooks

import (
	"fmt"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	validation "github.com/pocketbase/ozzo-validation/v4"

	"rounds/crm"
)

// registerQuotas checks a quota where it is typed (the dashboard, the
// REST API): its period runs forwards, and it names a rep. Who may set it
// is the policy's (the rep's manager, or an admin).
func registerQuotas(app core.App) {
	app.OnRecordValidate(crm.Quotas).BindFunc(func(e *core.RecordEvent) error {
		if err := checkQuota(e.App, e.Record); err != nil {
			return err
		}
		return e.Next()
	})
}

func checkQuota(app core.App, r *core.Record) error {
	errs := validation.Errors{}
	start, end := r.GetDateTime("period_start"), r.GetDateTime("period_end")
	if !start.IsZero() && !end.IsZero() && end.Time().Before(start.Time()) {
		errs["period_end"] = validation.NewError("validation_period_order",
			fmt.Sprintf("Must not be before period_start (%s).", start.Time().Format("2006-01-02")))
	}
	if rep := r.GetString("rep"); rep != "" {
		if u, err := app.FindRecordById(crm.Users, rep); err == nil && u.GetString("role") != crm.RoleRep {
			errs["rep"] = validation.NewError("validation_not_a_rep", fmt.Sprintf("%s is a %s: quotas are for reps.", u.GetString("name"), u.GetString("role")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apis.NewBadRequestError("The quota is not valid: "+errs.Error()+".", errs)
}
