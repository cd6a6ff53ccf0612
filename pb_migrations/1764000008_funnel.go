package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	rsync "rounds/sync"
)

// The sales funnel: stages (with the default ones), opportunities (synced
// like visits), their history, and the opportunity an order closes.
func init() {
	m.Register(func(app core.App) error {
		ids := map[string]string{}
		for _, name := range []string{crm.Users, crm.Customers, crm.Orders} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			ids[name] = c.Id
		}
		rel := func(name, target string, required, cascade bool) *core.RelationField {
			return &core.RelationField{Name: name, CollectionId: ids[target], Required: required, CascadeDelete: cascade, MaxSelect: 1}
		}

		stages := core.NewBaseCollection(crm.Stages)
		stages.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Presentable: true},
			&core.NumberField{Name: "position", OnlyInt: true},
			&core.NumberField{Name: "win_rate", Min: types.Pointer(0.0), Max: types.Pointer(100.0), Help: "percent"},
			&core.NumberField{Name: "max_days", OnlyInt: true, Min: types.Pointer(0.0), Help: "a deal longer in the stage is stalled; 0: never"},
			&core.SelectField{Name: "outcome", Values: crm.Outcomes, MaxSelect: 1, Required: true},
		)
		timestamps(stages)
		stages.AddIndex("idx_stages_name", true, "name", "")
		if err := app.Save(stages); err != nil {
			return fmt.Errorf("create %s: %w", crm.Stages, err)
		}
		ids[crm.Stages] = stages.Id
		for _, d := range crm.DefaultStages {
			r := core.NewRecord(stages)
			r.Id = d.ID
			r.Load(map[string]any{"name": d.Name, "position": d.Position, "win_rate": d.WinRate, "max_days": d.MaxDays, "outcome": d.Outcome})
			if err := app.Save(r); err != nil {
				return fmt.Errorf("stage %s: %w", d.Name, err)
			}
		}

		opps := synced(crm.Opportunities)
		opps.Fields.Add(
			rel("customer", crm.Customers, true, true),
			rel("owner", crm.Users, true, false),
			&core.TextField{Name: "title", Required: true, Max: 200, Presentable: true},
			&core.NumberField{Name: "amount", Min: types.Pointer(0.0), Max: types.Pointer(1e12)},
			currency("currency"),
			rel("stage", crm.Stages, true, false),
			&core.DateField{Name: "expected_close"},
			&core.NumberField{Name: "probability", Help: "the stage's win rate (server)"},
			&core.NumberField{Name: "weighted_amount", Help: "amount × probability (server)"},
			&core.DateField{Name: "stage_entered_at"},
			&core.DateField{Name: "closed_at"},
			&core.TextField{Name: "lost_reason", Max: 500},
			notes("notes"),
			rel("changed_by", crm.Users, false, false),
		)
		opps.AddIndex("idx_opportunities_customer", false, "customer", "")
		opps.AddIndex("idx_opportunities_owner_close", false, "owner, expected_close", "")
		opps.AddIndex("idx_opportunities_stage", false, "stage", "")
		if err := app.Save(opps); err != nil {
			return fmt.Errorf("create %s: %w", crm.Opportunities, err)
		}
		ids[crm.Opportunities] = opps.Id

		hist := core.NewBaseCollection(crm.OpportunityHistory)
		hist.Fields.Add(
			rel("opportunity", crm.Opportunities, true, true),
			rel("stage", crm.Stages, false, false),
			&core.NumberField{Name: "amount"},
			&core.DateField{Name: "expected_close"},
			&core.DateField{Name: "entered_at", Required: true},
			&core.DateField{Name: "left_at"},
			rel("user", crm.Users, false, false),
		)
		timestamps(hist)
		hist.AddIndex("idx_opportunity_history", false, "opportunity, entered_at", "")
		if err := app.Save(hist); err != nil {
			return fmt.Errorf("create %s: %w", crm.OpportunityHistory, err)
		}

		orders, err := app.FindCollectionByNameOrId(crm.Orders)
		if err != nil {
			return err
		}
		orders.Fields.Add(rel("opportunity", crm.Opportunities, false, false))
		orders.AddIndex("idx_orders_opportunity", false, "opportunity", "opportunity != ''")
		// closed revenue per rep and period (the forecast)
		orders.AddIndex("idx_orders_rep_closed", false, "rep, submitted_at", "status IN ('confirmed', 'fulfilled')")
		if err := app.Save(orders); err != nil {
			return err
		}
		if err := ApplyPolicy(app); err != nil {
			return err
		}
		return rsync.InstallCapture(app.DB())
	}, func(app core.App) error {
		if err := rsync.DropTriggers(app.DB(), crm.Orders); err != nil { // they name the column
			return err
		}
		if orders, err := app.FindCollectionByNameOrId(crm.Orders); err == nil {
			orders.RemoveIndex("idx_orders_opportunity")
			orders.RemoveIndex("idx_orders_rep_closed")
			orders.Fields.RemoveByName("opportunity")
			if err := app.Save(orders); err != nil {
				return err
			}
		}
		for _, name := range []string{crm.OpportunityHistory, crm.Opportunities, crm.Stages} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return rsync.InstallCapture(app.DB())
	})
}
