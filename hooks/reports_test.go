package hooks_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
)

type forecastAnswer struct {
	From, To, Timezone string
	Currencies         []crm.CurrencyForecast
}

// TestForecastByHand: a month of closed orders and open deals in the
// company's time zone (Berlin), with figures computed by hand, for a rep,
// their manager and a superuser.
func TestForecastByHand(t *testing.T) {
	t.Parallel()
	deps := testapp.Deps()
	deps.DefaultZone, _ = time.LoadLocation("Europe/Berlin")
	app := testapp.NewWith(t, deps)
	client := testapp.NewClient(t, app)
	save := func(collection, id string, data map[string]any) {
		t.Helper()
		c, _ := app.FindCollectionByNameOrId(collection)
		r, err := app.FindRecordById(collection, id)
		if err != nil {
			r = core.NewRecord(c)
			r.Id = id
		}
		r.Load(data)
		if err := app.Save(r); err != nil {
			t.Fatalf("%s %s: %v", collection, id, err)
		}
	}
	status := func(order string, moves ...string) {
		for _, s := range moves {
			save(crm.Orders, order, map[string]any{"status": s})
		}
	}
	// closed in March (submitted at testapp.Now, 2 March): A 25.00 + 10.00, B 25.00, X 99.90 USD
	status(testapp.OrderA, "submitted", "confirmed")
	status(testapp.OrderASubmitted, "confirmed")
	status(testapp.OrderB, "submitted", "confirmed", "fulfilled")
	save(crm.Orders, "orderxusd000001", map[string]any{"customer": testapp.CustomerX, "status": "draft", "currency": "USD"})
	save(crm.OrderLines, "linexusd0000001", map[string]any{"order": "orderxusd000001", "product": testapp.ProductUSD, "quantity": 10})
	status("orderxusd000001", "submitted", "confirmed")
	save(crm.Orders, "orderadraft0001", map[string]any{"customer": testapp.CustomerA, "status": "draft", "currency": "EUR"}) // not closed
	save(crm.OrderLines, "lineadraft00001", map[string]any{"order": "orderadraft0001", "product": testapp.ProductCoffee, "quantity": 40})

	st := crm.DefaultStages // 0 Prospecting 10, 2 Proposal 50, 3 Negotiation 80, 4 Won
	deal := func(id, customer string, amount float64, currency string, stage int, close time.Time) {
		save(crm.Opportunities, id, map[string]any{"customer": customer, "title": id, "amount": amount, "currency": currency,
			"stage": st[stage].ID, "expected_close": close})
	}
	deal("dealaproposal01", testapp.CustomerA, 1000, "EUR", 2, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)) // 500
	deal("dealaapril00001", testapp.CustomerA, 400, "EUR", 3, time.Date(2026, 4, 5, 12, 0, 0, 0, time.UTC))   // April
	deal("dealawon0000001", testapp.CustomerA, 5000, "EUR", 4, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)) // won: not open
	deal("dealbfirstminut", testapp.CustomerB, 200, "EUR", 0, time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC)) // 1 March 00:30 in Berlin: 20
	deal("dealbaprilfirst", testapp.CustomerB, 300, "EUR", 2, time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC)) // 1 April 00:30 in Berlin
	deal("dealxnegotiatio", testapp.CustomerX, 1000, "USD", 3, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)) // 800

	ask := func(actor, query string, wantStatus int) forecastAnswer {
		t.Helper()
		res := client.Do(actor, "GET", "/api/reports/forecast?"+query, nil)
		if res.Status != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", actor, query, res.Status, res.Body, wantStatus)
		}
		var a forecastAnswer
		if res.Status == 200 {
			res.JSON(t, &a)
		}
		return a
	}
	march := "from=2026-03-01&to=2026-03-31"
	one := func(a forecastAnswer, currency string) crm.CurrencyForecast {
		t.Helper()
		for _, c := range a.Currencies {
			if c.Currency == currency {
				return c
			}
		}
		t.Fatalf("no %s in %+v", currency, a)
		return crm.CurrencyForecast{}
	}
	check := func(who string, c crm.CurrencyForecast, closed, weighted float64, reps map[string][3]float64) {
		t.Helper()
		if c.Closed != closed || c.Weighted != weighted || c.Forecast != closed+weighted {
			t.Fatalf("%s %s: closed %v weighted %v forecast %v; want %v, %v, %v", who, c.Currency, c.Closed, c.Weighted, c.Forecast, closed, weighted, closed+weighted)
		}
		got := map[string][3]float64{}
		for _, r := range c.ByRep {
			got[r.Rep] = [3]float64{r.Closed, r.Weighted, r.Forecast}
		}
		if fmt.Sprint(got) != fmt.Sprint(reps) {
			t.Fatalf("%s %s by rep: %v, want %v", who, c.Currency, got, reps)
		}
	}

	a := ask(testapp.RepA, march, 200)
	if len(a.Currencies) != 1 || a.Timezone != "Europe/Berlin" {
		t.Fatalf("rep A: %+v", a)
	}
	check("rep A", one(a, "EUR"), 35, 500, map[string][3]float64{testapp.UserRepA: {35, 500, 535}})

	m := ask(testapp.ManagerA, march, 200)
	eur := one(m, "EUR")
	check("manager A", eur, 60, 520, map[string][3]float64{testapp.UserRepA: {35, 500, 535}, testapp.UserRepB: {25, 20, 45}})
	if len(m.Currencies) != 1 || len(eur.ByStage) != 2 || eur.ByStage[0].Name != "Prospecting" || eur.ByStage[0].Weighted != 20 ||
		eur.ByStage[1].Name != "Proposal" || eur.ByStage[1].Amount != 1000 || eur.ByStage[1].Count != 1 {
		t.Fatalf("manager A: %+v", m)
	}

	s := ask(testapp.Admin, march, 200)
	check("superuser", one(s, "EUR"), 60, 520, map[string][3]float64{testapp.UserRepA: {35, 500, 535}, testapp.UserRepB: {25, 20, 45}})
	check("superuser", one(s, "USD"), 99.90, 800, map[string][3]float64{testapp.UserRepX: {99.90, 800, 899.90}})

	// one rep, within what the caller reads
	check("manager A on rep B", one(ask(testapp.ManagerA, march+"&rep="+testapp.UserRepB, 200), "EUR"), 25, 20, map[string][3]float64{testapp.UserRepB: {25, 20, 45}})
	ask(testapp.ManagerA, march+"&rep="+testapp.UserRepX, 403)
	ask(testapp.RepA, march+"&rep="+testapp.UserRepB, 403)
	ask(testapp.Anon, march, 401)
	// April in Berlin begins with B's deal of 31 March 22:30 UTC
	check("rep B in April", one(ask(testapp.RepB, "from=2026-04-01&to=2026-04-30", 200), "EUR"), 0, 150, map[string][3]float64{testapp.UserRepB: {0, 150, 150}})
	for _, bad := range []string{"from=2026-03-31&to=2026-03-01", "from=March&to=2026-03-31", "to=2026-03-31", "from=2026-03-01&to=2026-02-30"} {
		ask(testapp.RepA, bad, 400)
	}
	if e := ask(testapp.RepX, "from=2025-01-01&to=2025-01-31", 200); len(e.Currencies) != 0 {
		t.Fatalf("an empty period: %+v", e)
	}
}
