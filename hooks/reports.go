package hooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/policy"
)

// ForecastReport is the answer of GET /api/reports/forecast.
type ForecastReport struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Timezone string `json:"timezone"`
	// Start and End are the period's bounds as instants (UTC, PocketBase's
	// date format; End is excluded), so that a page lists the deals behind a
	// figure with the same bounds the report used.
	Start      string                 `json:"start"`
	End        string                 `json:"end"`
	Currencies []crm.CurrencyForecast `json:"currencies"`
}

// registerReports serves the reports: signed-in users only, each seeing
// the reps the policy lets them read (a rep themselves, a manager their
// team, a superuser everyone).
func registerReports(app core.App, deps Deps) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET("/api/reports/forecast", func(e *core.RequestEvent) error { return handleForecast(e, deps) }).
			Bind(apis.RequireAuth(crm.Users, core.CollectionNameSuperusers))
		return se.Next()
	})
}

func handleForecast(e *core.RequestEvent, deps Deps) error {
	actor := actorOf(e.Auth)
	if actor.Role != policy.Superuser && !actor.SignedIn() {
		return router.NewUnauthorizedError("Sign in with an active account.", nil)
	}
	q := e.Request.URL.Query()
	if q.Get("from") == "" || q.Get("to") == "" {
		return router.NewBadRequestError("Query parameters from and to (YYYY-MM-DD, inclusive) are required.", nil)
	}
	period, err := crm.ParsePeriod(q.Get("from"), q.Get("to"), deps.DefaultZone)
	if err != nil {
		return router.NewBadRequestError(err.Error()+".", nil)
	}
	reps, err := forecastReps(e.App, actor, q.Get("rep"))
	if err != nil {
		return err
	}
	report, err := Forecast(e.App, period, reps, deps.Now())
	if err != nil {
		return router.NewInternalServerError("The forecast could not be computed.", err)
	}
	report.Timezone = deps.DefaultZone.String()
	return e.JSON(http.StatusOK, report)
}

// forecastReps is whose numbers an actor sees: nil means everyone's (a
// superuser); a rep themselves; a manager the team and themselves. rep
// narrows it to one rep the policy lets the actor read.
func forecastReps(app core.App, actor policy.Actor, rep string) ([]string, error) {
	if rep != "" {
		if !policy.For(crm.Users).Reads(actor, dbResolver{app}, rep) {
			return nil, router.NewForbiddenError(fmt.Sprintf("rep %q is not in your team.", clipQuery(rep)), nil)
		}
		return []string{rep}, nil
	}
	switch actor.Role {
	case policy.Superuser:
		return nil, nil
	case policy.Manager:
		var reps []string
		if err := app.DB().NewQuery("SELECT id FROM users WHERE manager = {:m} ORDER BY id").
			Bind(dbx.Params{"m": actor.ID}).Column(&reps); err != nil {
			return nil, err
		}
		return append(reps, actor.ID), nil
	}
	return []string{actor.ID}, nil
}

// Forecast computes the forecast of period for reps (nil: everyone):
// closed revenue (orders confirmed or fulfilled, by submitted_at) and the
// open deals expected to close in it, weighted by their stage's win rate.
func Forecast(app core.App, period crm.Period, reps []string, now time.Time) (ForecastReport, error) {
	report := ForecastReport{From: period.From, To: period.To, Currencies: []crm.CurrencyForecast{},
		Start: period.Start.UTC().Format(types.DefaultDateLayout), End: period.End.UTC().Format(types.DefaultDateLayout)}
	repsJSON, _ := json.Marshal(reps)
	params := dbx.Params{
		"start": report.Start, "end": report.End, "reps": string(repsJSON),
	}
	// one condition or none: an OR with a bound flag would keep SQLite
	// from the (rep, date) indexes
	ofReps := func(column string) string {
		if reps == nil {
			return ""
		}
		return " AND " + column + " IN (SELECT value FROM json_each({:reps}))"
	}
	db := app.DB()
	var closed []struct {
		Rep      string `db:"rep"`
		Currency string `db:"currency"`
		Cents    int64  `db:"cents"`
	}
	err := db.NewQuery(`SELECT o.rep, o.currency, SUM(CAST(ROUND(o.total * 100) AS INTEGER)) AS cents FROM orders o
		WHERE o.status IN ('confirmed', 'fulfilled') AND o.submitted_at >= {:start} AND o.submitted_at < {:end}` + ofReps("o.rep") + `
		GROUP BY o.rep, o.currency`).Bind(params).All(&closed)
	if err != nil {
		return report, fmt.Errorf("closed revenue: %w", err)
	}
	var open []struct {
		Owner    string  `db:"owner"`
		Currency string  `db:"currency"`
		Stage    string  `db:"stage"`
		Amount   float64 `db:"amount"`
		WinRate  float64 `db:"win_rate"`
		Entered  string  `db:"stage_entered_at"`
		MaxDays  int     `db:"max_days"`
	}
	err = db.NewQuery(`SELECT o.owner, o.currency, o.stage, o.amount, s.win_rate, o.stage_entered_at, s.max_days
		FROM opportunities o JOIN stages s ON s.id = o.stage
		WHERE s.outcome = 'open' AND o.expected_close >= {:start} AND o.expected_close < {:end}` + ofReps("o.owner")).Bind(params).All(&open)
	if err != nil {
		return report, fmt.Errorf("open deals: %w", err)
	}
	var stages []crm.StageRef
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := db.NewQuery("SELECT id, name FROM stages ORDER BY position, name").All(&rows); err != nil {
		return report, fmt.Errorf("stages: %w", err)
	}
	for _, r := range rows {
		stages = append(stages, crm.StageRef{ID: r.ID, Name: r.Name})
	}
	cr := make([]crm.ClosedRow, 0, len(closed))
	for _, c := range closed {
		cr = append(cr, crm.ClosedRow{Rep: c.Rep, Currency: c.Currency, Total: crm.Amount(c.Cents)})
	}
	od := make([]crm.OpenDeal, 0, len(open))
	for _, o := range open {
		entered, _ := time.Parse(types.DefaultDateLayout, o.Entered)
		od = append(od, crm.OpenDeal{Rep: o.Owner, Currency: o.Currency, Stage: o.Stage, Amount: o.Amount, WinRate: o.WinRate, Entered: entered, MaxDays: o.MaxDays})
	}
	if f := crm.Forecast(cr, od, stages, now); f != nil {
		report.Currencies = f
	}
	return report, nil
}
