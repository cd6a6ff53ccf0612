package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// quotas: a rep's target of closed revenue for a period (period_start to
// period_end, whole days) in one currency. The rep reads it; the rep's
// manager or an admin sets it (the policy). The managers' page shows
// attainment beside closed revenue, prorating a quota by the days it shares
// with the period shown.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId(crm.Users)
		if err != nil {
			return err
		}
		c := core.NewBaseCollection(crm.Quotas)
		c.Fields.Add(
			&core.RelationField{Name: "rep", CollectionId: users.Id, Required: true, CascadeDelete: true, MaxSelect: 1},
			&core.DateField{Name: "period_start", Required: true},
			&core.DateField{Name: "period_end", Required: true},
			&core.NumberField{Name: "amount", Min: types.Pointer(0.0), Max: types.Pointer(1e12), Help: "closed revenue the rep aims at in the period"},
			currency("currency"),
		)
		timestamps(c)
		c.AddIndex("idx_quotas_rep_period", true, "rep, currency, period_start", "")
		if err := app.Save(c); err != nil {
			return err
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(crm.Quotas)
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
