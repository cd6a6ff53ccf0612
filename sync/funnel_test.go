package sync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	"rounds/internal/testapp"
)

// TestOpportunitiesThroughSync: a rep creates a deal on the phone and moves
// it along; the server computes its figures, refuses a lost deal without a
// reason, and writes a line of history per stage, by the rep, in the
// push's transaction. The pull carries the stages and the deal back.
func TestOpportunitiesThroughSync(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	first := s.pullV2(testapp.RepA, "null", "")
	ts := first.Timestamp
	if got := len(first.Changes[crm.Stages].Updated); got != len(crm.DefaultStages) {
		t.Fatalf("the first pull carries %d stages, want %d", got, len(crm.DefaultStages))
	}
	deal := func(stage, reason string) M {
		return M{crm.Opportunities: M{"created": []M{}, "deleted": []string{}, "updated": []M{{
			"id": "PhoneDeal000001", "customer": testapp.CustomerA, "title": "Shelf extension", "amount": 2000.0, "currency": "EUR",
			"stage": stage, "lost_reason": reason, "expected_close": float64(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC).UnixMilli()),
			"probability": 0.0, "weighted_amount": 0.0, "_status": "updated", "_changed": "stage,lost_reason",
		}}}}
	}
	stages := crm.DefaultStages
	for _, st := range []string{stages[0].ID, stages[2].ID, stages[3].ID} {
		res := s.push(testapp.RepA, ts, deal(st, ""))
		if len(res.Rejected) > 0 {
			t.Fatalf("move to %s refused: %+v", st, res.Rejected)
		}
		if res.SyncAgain == nil || !*res.SyncAgain {
			t.Fatal("the server computed the deal's figures but did not ask for another sync")
		}
		ts = s.pullV2(testapp.RepA, ts, "").Timestamp
	}
	o, err := s.app.FindRecordById(crm.Opportunities, "PhoneDeal000001")
	if err != nil {
		t.Fatal(err)
	}
	if o.GetString("owner") != testapp.UserRepA || o.GetFloat("probability") != 80 || o.GetFloat("weighted_amount") != 1600 || o.GetDateTime("stage_entered_at").IsZero() {
		t.Fatalf("deal on the server: %v", o.FieldsData())
	}
	if res := s.push(testapp.RepA, ts, deal(stages[5].ID, "")); len(res.Rejected) != 1 {
		t.Fatalf("a lost deal without a reason: %+v", res)
	}
	if res := s.push(testapp.RepA, ts, deal(stages[5].ID, "price")); len(res.Rejected) > 0 {
		t.Fatalf("lost with a reason: %+v", res.Rejected)
	}
	var lines []struct {
		Stage string `db:"stage"`
		User  string `db:"user"`
		Left  string `db:"left_at"`
	}
	if err := s.app.DB().NewQuery("SELECT stage, user, left_at FROM opportunity_history WHERE opportunity = {:o} ORDER BY entered_at, rowid").
		Bind(dbx.Params{"o": "PhoneDeal000001"}).All(&lines); err != nil {
		t.Fatal(err)
	}
	want := []string{stages[0].ID, stages[2].ID, stages[3].ID, stages[5].ID}
	if len(lines) != len(want) {
		t.Fatalf("history: %+v, want stages %v", lines, want)
	}
	for i, l := range lines {
		if l.Stage != want[i] || l.User != testapp.UserRepA || (l.Left == "") != (i == len(want)-1) {
			t.Fatalf("history line %d: %+v (want stage %s, rep A, open only at the end)", i, l, want[i])
		}
	}
	o, _ = s.app.FindRecordById(crm.Opportunities, "PhoneDeal000001")
	if o.GetDateTime("closed_at").IsZero() || o.GetFloat("probability") != 0 {
		t.Fatalf("lost deal: %v", o.FieldsData())
	}
	// a device on schema 2 does not get the tables it does not have
	res := s.client.Do(testapp.RepA, "GET", "/api/sync/pull?last_pulled_at=null&schema_version=2", nil)
	var old pullResult
	res.JSON(t, &old)
	if _, ok := old.Changes[crm.Opportunities]; ok || len(old.Changes[crm.Visits].Updated) == 0 {
		t.Fatalf("a schema 2 pull: %d tables, opportunities included: %v", len(old.Changes), ok)
	}
}

// TestBadDealsAreRefusedByName: a deal in a stage that does not exist, with
// a negative amount, a lowercase currency, or an order closing another
// customer's deal is refused, saying why, and nothing else of the push is.
func TestBadDealsAreRefusedByName(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pullV2(testapp.RepA, "null", "").Timestamp
	deal := func(id string, fields M) M {
		r := M{"id": id, "customer": testapp.CustomerA, "title": "Deal", "amount": 100.0, "currency": "EUR", "stage": crm.DefaultStages[0].ID,
			"_status": "created", "_changed": ""}
		for k, v := range fields {
			r[k] = v
		}
		return r
	}
	res := s.push(testapp.RepA, ts, M{
		crm.Opportunities: M{"updated": []M{}, "deleted": []string{}, "created": []M{
			deal("BadDealStage0001", M{"stage": "nosuchstage0000"}),
			deal("BadDealAmount001", M{"amount": -5.0}),
			deal("BadDealCurrency1", M{"currency": "eur"}),
			deal("GoodDeal00000001", nil),
		}},
		crm.Orders: M{"updated": []M{}, "deleted": []string{}, "created": []M{
			{"id": "BadDealOrder0001", "customer": testapp.CustomerA, "status": "draft", "currency": "EUR", "opportunity": "nosuchdeal00000", "_status": "created", "_changed": ""},
		}},
	})
	reasons := map[string]string{}
	for _, r := range res.Rejected {
		reasons[r.ID] = r.Reason
	}
	for id, want := range map[string]string{
		"BadDealStage0001": "stage", "BadDealAmount001": "amount", "BadDealCurrency1": "currency", "BadDealOrder0001": "opportunity",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("%s: refused with %q, want a reason naming %q", id, reasons[id], want)
		}
	}
	if _, ok := reasons["GoodDeal00000001"]; ok {
		t.Fatalf("the good deal was refused: %v", reasons)
	}
	if _, err := s.app.FindRecordById(crm.Opportunities, "GoodDeal00000001"); err != nil {
		t.Fatal("the good deal was not stored")
	}
}
