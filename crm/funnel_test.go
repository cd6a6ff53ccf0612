package crm_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"rounds/crm"
)

func TestWeighted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ amount, rate, want float64 }{
		{1000, 10, 100}, {1000, 0, 0}, {1000, 100, 1000}, {0.05, 50, 0.03}, // half a cent rounds up
		{12345.67, 80, 9876.54}, {99.99, 20, 20}, {1, 33, 0.33},
	} {
		if got := crm.Weighted(c.amount, c.rate); got != c.want {
			t.Errorf("Weighted(%v, %v) = %v, want %v", c.amount, c.rate, got, c.want)
		}
	}
}

func TestStalled(t *testing.T) {
	t.Parallel()
	entered := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now     time.Time
		maxDays int
		want    bool
	}{
		{entered.Add(14 * 24 * time.Hour), 14, false},          // exactly the maximum: not yet
		{entered.Add(14*24*time.Hour + time.Second), 14, true}, // past it
		{entered.Add(400 * 24 * time.Hour), 0, false},          // 0: never
		{entered.Add(-time.Hour), 1, false},                    // entered in the future (clock skew)
		{entered.Add(2 * 24 * time.Hour), 1, true},
	} {
		if got := crm.Stalled(entered, c.now, c.maxDays); got != c.want {
			t.Errorf("Stalled(%v, max %d) = %v, want %v", c.now.Sub(entered), c.maxDays, got, c.want)
		}
	}
	if crm.Stalled(time.Time{}, entered, 1) {
		t.Error("a deal without a stage time is stalled")
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	p, err := crm.ParsePeriod("2026-03-01", "2026-03-31", berlin)
	if err != nil {
		t.Fatal(err)
	}
	// March in Berlin: from 23:00 UTC the day before, to 22:00 UTC on 31 March (summer time began on the 29th)
	if !p.Start.Equal(time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)) || !p.End.Equal(time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)) {
		t.Fatalf("March in Berlin: [%v, %v)", p.Start.UTC(), p.End.UTC())
	}
	one, err := crm.ParsePeriod("2026-03-05", "2026-03-05", time.UTC)
	if err != nil || one.End.Sub(one.Start) != 24*time.Hour {
		t.Fatalf("one day: %v %v", one, err)
	}
	for _, bad := range [][2]string{{"2026-03-31", "2026-03-01"}, {"March", "2026-03-01"}, {"2026-03-01", "2026-02-30"}, {"2020-01-01", "2026-01-01"}, {"", ""}} {
		if _, err := crm.ParsePeriod(bad[0], bad[1], time.UTC); err == nil {
			t.Errorf("ParsePeriod(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestForecastSums: on random deals and orders, the forecast of each
// currency is closed + weighted, equals the sum of its reps' and (weighted)
// of its stages', and agrees with a naive computation to the cent.
func TestForecastSums(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
	stages := []crm.StageRef{{"s1", "Prospecting"}, {"s2", "Proposal"}, {"s3", "Negotiation"}}
	rates := map[string]float64{"s1": 10, "s2": 50, "s3": 80}
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		var closed []crm.ClosedRow
		var open []crm.OpenDeal
		naive := map[string]float64{}
		for i := rng.IntN(20); i > 0; i-- {
			c := crm.ClosedRow{Rep: []string{"r1", "r2", "r3"}[rng.IntN(3)], Currency: []string{"EUR", "USD"}[rng.IntN(2)], Total: float64(rng.IntN(1e6)) / 100}
			closed = append(closed, c)
			naive[c.Currency] += c.Total
		}
		for i := rng.IntN(30); i > 0; i-- {
			st := stages[rng.IntN(3)]
			d := crm.OpenDeal{Rep: []string{"r1", "r2", "r3"}[rng.IntN(3)], Currency: []string{"EUR", "USD"}[rng.IntN(2)], Stage: st.ID,
				Amount: float64(rng.IntN(1e7)) / 100, WinRate: rates[st.ID], Entered: now.Add(-time.Duration(rng.IntN(60*24)) * time.Hour), MaxDays: 14}
			open = append(open, d)
			naive[d.Currency] += d.Amount * d.WinRate / 100
		}
		for _, f := range crm.Forecast(closed, open, stages, now) {
			if math.Abs(f.Forecast-(f.Closed+f.Weighted)) > 0.005 {
				t.Fatalf("seed %d %s: forecast %v != closed %v + weighted %v", seed, f.Currency, f.Forecast, f.Closed, f.Weighted)
			}
			if math.Abs(f.Forecast-naive[f.Currency]) > 0.005*float64(len(open)+1) {
				t.Fatalf("seed %d %s: forecast %v, naive %v", seed, f.Currency, f.Forecast, naive[f.Currency])
			}
			var byRep, byStage float64
			for _, r := range f.ByRep {
				byRep += r.Forecast
			}
			for _, s := range f.ByStage {
				byStage += s.Weighted
				if s.Stalled > s.Count || s.AvgDaysInStage < 0 {
					t.Fatalf("seed %d: stage %+v", seed, s)
				}
			}
			if math.Abs(byRep-f.Forecast) > 0.005 || math.Abs(byStage-f.Weighted) > 0.005 {
				t.Fatalf("seed %d %s: reps sum to %v, stages to %v; forecast %v, weighted %v", seed, f.Currency, byRep, byStage, f.Forecast, f.Weighted)
			}
		}
	}
}

func TestForecastByHand(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	stages := []crm.StageRef{{"p", "Proposal"}, {"n", "Negotiation"}}
	got := crm.Forecast(
		[]crm.ClosedRow{{"r1", "EUR", 1000}, {"r2", "EUR", 250.50}},
		[]crm.OpenDeal{
			{Rep: "r1", Currency: "EUR", Stage: "p", Amount: 2000, WinRate: 50, Entered: now.Add(-30 * 24 * time.Hour), MaxDays: 21}, // 1000, stalled
			{Rep: "r2", Currency: "EUR", Stage: "n", Amount: 500, WinRate: 80, Entered: now.Add(-2 * 24 * time.Hour), MaxDays: 14},   // 400
			{Rep: "r2", Currency: "USD", Stage: "p", Amount: 100, WinRate: 50, Entered: now.Add(-10 * 24 * time.Hour), MaxDays: 21},  // 50
		}, stages, now)
	if len(got) != 2 || got[0].Currency != "EUR" || got[1].Currency != "USD" {
		t.Fatalf("currencies: %+v", got)
	}
	eur := got[0]
	if eur.Closed != 1250.50 || eur.Weighted != 1400 || eur.Forecast != 2650.50 {
		t.Fatalf("EUR: closed %v weighted %v forecast %v", eur.Closed, eur.Weighted, eur.Forecast)
	}
	if eur.ByRep[0] != (crm.RepFigures{Rep: "r1", Closed: 1000, Weighted: 1000, Forecast: 2000}) ||
		eur.ByRep[1] != (crm.RepFigures{Rep: "r2", Closed: 250.50, Weighted: 400, Forecast: 650.50}) {
		t.Fatalf("EUR by rep: %+v", eur.ByRep)
	}
	if eur.ByStage[0] != (crm.StageFigures{Stage: "p", Name: "Proposal", Count: 1, Amount: 2000, Weighted: 1000, AvgDaysInStage: 30, Stalled: 1}) ||
		eur.ByStage[1] != (crm.StageFigures{Stage: "n", Name: "Negotiation", Count: 1, Amount: 500, Weighted: 400, AvgDaysInStage: 2, Stalled: 0}) {
		t.Fatalf("EUR by stage: %+v", eur.ByStage)
	}
	if got[1].Closed != 0 || got[1].Weighted != 50 || len(got[1].ByStage) != 1 {
		t.Fatalf("USD: %+v", got[1])
	}
}

// stored is a record held in a map, for the prepare rules.
type stored map[string]any

func (s stored) GetString(f string) string {
	v, _ := s[f].(string)
	return v
}
func (s stored) GetFloat(f string) float64 {
	v, _ := s[f].(float64)
	return v
}
func (s stored) GetInt(f string) int { return int(s.GetFloat(f)) }
func (s stored) Set(f string, v any) {
	if t, ok := v.(time.Time); ok {
		v = t.Format(time.RFC3339)
	}
	s[f] = v
}

func TestPrepareOpportunity(t *testing.T) {
	t.Parallel()
	db := map[string]stored{
		"customers/c": {"owner": "rep1"},
		"stages/prop": {"win_rate": 50.0, "outcome": "open"},
		"stages/neg":  {"win_rate": 80.0, "outcome": "open"},
		"stages/won":  {"win_rate": 100.0, "outcome": "won"},
		"stages/lost": {"win_rate": 0.0, "outcome": "lost"},
	}
	find := func(c, id string) (crm.Stored, error) {
		if r, ok := db[c+"/"+id]; ok {
			return r, nil
		}
		return nil, nil
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	o := stored{"customer": "c", "stage": "prop", "amount": 1000.0, "expected_close": "2026-04-01"}
	if h, err := crm.PrepareOpportunity(find, o, nil, t0); err != nil || !h {
		t.Fatalf("new deal: history %v, %v", h, err)
	}
	if o["owner"] != "rep1" || o["probability"] != 50.0 || o["weighted_amount"] != 500.0 || o["stage_entered_at"] != t0.Format(time.RFC3339) || o["closed_at"] != "" {
		t.Fatalf("new deal: %v", o)
	}
	orig := stored{}
	for k, v := range o {
		orig[k] = v
	}
	o["notes"] = "called"
	if h, _ := crm.PrepareOpportunity(find, o, orig, t0.Add(time.Hour)); h || o["stage_entered_at"] != t0.Format(time.RFC3339) {
		t.Fatalf("a note: history %v, entered %v", h, o["stage_entered_at"])
	}
	o["stage"] = "neg"
	if h, _ := crm.PrepareOpportunity(find, o, orig, t0.Add(time.Hour)); !h || o["weighted_amount"] != 800.0 || o["stage_entered_at"] != t0.Add(time.Hour).Format(time.RFC3339) {
		t.Fatalf("moved: history %v, %v", h, o)
	}
	o["stage"] = "lost"
	if _, err := crm.PrepareOpportunity(find, o, orig, t0); err == nil {
		t.Fatal("lost without a reason accepted")
	}
	o["lost_reason"] = "price"
	if _, err := crm.PrepareOpportunity(find, o, orig, t0.Add(2*time.Hour)); err != nil || o["closed_at"] != t0.Add(2*time.Hour).Format(time.RFC3339) {
		t.Fatalf("lost: %v %v", err, o)
	}
	won := stored{"customer": "c", "stage": "won", "amount": 10.0, "closed_at": o["closed_at"]}
	o["stage"] = "prop" // reopened
	if _, err := crm.PrepareOpportunity(find, o, won, t0.Add(3*time.Hour)); err != nil || o["closed_at"] != "" {
		t.Fatalf("reopened: %v %v", err, o["closed_at"])
	}
	o["amount"] = -1.0
	if _, err := crm.PrepareOpportunity(find, o, nil, t0); err == nil {
		t.Fatal("negative amount accepted")
	}
	o["amount"], o["stage"] = 1.0, "nope"
	if _, err := crm.PrepareOpportunity(find, o, nil, t0); err == nil {
		t.Fatal("unknown stage accepted")
	}
}
