package hooks

import (
	"context"

	"github.com/pocketbase/pocketbase/core"

	"rounds/tiers"
)

// registerTiers schedules the `tiers` job nightly at 02:00 in the company's
// time zone (ROUNDS_TIMEZONE: the cron's clock; the other jobs run every
// minute or at 03:30 there too); superusers run it now with
// POST /api/crons/tiers.
func registerTiers(app core.App, deps Deps) {
	app.Cron().SetTimezone(deps.DefaultZone)
	app.Cron().MustAdd("tiers", "0 2 * * *", func() {
		st, err := tiers.Run(context.Background(), app, deps.Now())
		if err != nil {
			app.Logger().Error("tiers job failed", "error", err)
			return
		}
		app.Logger().Info("tiers job", "customers", st.Customers, "changed", st.Changed, "A", st.ByTier["A"], "B", st.ByTier["B"], "C", st.ByTier["C"],
			"orders in other currencies left out", st.OtherCurrencyOrders)
	})
}
