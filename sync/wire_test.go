package sync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/policy"
	rsync "rounds/sync"
)

// validNew is a valid new record of each table a device writes, for rep A:
// only its required columns.
func validNew(table string) M {
	switch table {
	case crm.Customers:
		return M{"name": "Wire shop"}
	case crm.Contacts:
		return M{"customer": testapp.CustomerA, "name": "Wire person"}
	case crm.Visits:
		return M{"customer": testapp.CustomerA}
	case crm.FollowUps:
		return M{"customer": testapp.CustomerA, "due_at": float64(testapp.Now.Add(24 * 3600e9).UnixMilli())}
	case crm.Opportunities:
		return M{"customer": testapp.CustomerA, "title": "Wire deal", "currency": "EUR", "stage": crm.DefaultStages[0].ID}
	case crm.Orders:
		return M{"customer": testapp.CustomerA, "currency": "EUR"}
	case crm.OrderLines:
		return M{"order": testapp.OrderA, "product": testapp.ProductCoffee, "quantity": 1.0}
	}
	panic(table)
}

// otherRepsRecord is a record of rep B that a relation column of rep A's
// record could name.
var otherRepsRecord = map[string]string{
	"customer": testapp.CustomerB, "contact": testapp.ContactB, "visit": testapp.VisitB, "order": testapp.OrderB,
}

// wrongType is a wire value of the wrong JSON type for a column, and the
// words the refusal uses for the right one.
func wrongType(c rsync.Column) (any, string) {
	switch c.Kind {
	case rsync.Text:
		return 12.0, "must be text"
	case rsync.Relation:
		return 12.0, "must be an id or null"
	case rsync.Number:
		return "twelve", "must be a number"
	case rsync.Bool:
		return "yes", "must be true or false"
	}
	return "tomorrow", "must be epoch milliseconds or null"
}

// TestEveryFieldSaysWhatItTakes sends, for every column a device writes in
// every synced table, a new record that is valid but for that column: the
// wrong JSON type, seconds for milliseconds, the column left out when it is
// required, text one character too long, a value outside the field's
// range, pattern or choices, and another rep's record in a relation. Each
// is refused, and the reason names the table and column and says what the
// column takes (the words of sync.Form, which the protocol document shows).
// The valid record itself is accepted.
func TestEveryFieldSaysWhatItTakes(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pullV2(testapp.RepA, "null", "").Timestamp
	n := 0
	send := func(table string, r M) pushResult {
		t.Helper()
		n++
		r["id"] = fmt.Sprintf("wirecase%07d", n)
		return s.push(testapp.RepA, ts, M{table: M{"created": []M{r}, "updated": []M{}, "deleted": []string{}}})
	}
	cases := 0
	for _, tbl := range rsync.Tables {
		if tbl.ReadOnly {
			continue
		}
		collection, err := s.app.FindCollectionByNameOrId(tbl.Name)
		if err != nil {
			t.Fatal(err)
		}
		if res := send(tbl.Name, validNew(tbl.Name)); len(res.Rejected) > 0 {
			t.Fatalf("a valid new %s is refused: %+v", tbl.Name, res.Rejected)
		}
		for _, c := range tbl.Columns {
			if tbl.ServerOwned(c.Name) || c.Name == "created" || c.Name == "updated" || policy.For(tbl.Name).DeviceField(c.Name, true) != policy.FieldFree {
				continue
			}
			field := collection.Fields.GetByName(c.Name)
			form := rsync.Form(c, field)
			type bad struct {
				what  string
				value any // nil with drop: the column is left out
				drop  bool
				want  []string
			}
			v, words := wrongType(c)
			bads := []bad{{what: "wrong type", value: v, want: []string{tbl.Name + "." + c.Name, words}}}
			if c.Kind == rsync.Date {
				secs := float64(testapp.Now.Unix())
				bads = append(bads, bad{what: "seconds", value: secs, want: []string{tbl.Name + "." + c.Name, "looks like seconds", fmt.Sprint(int64(secs) * 1000)}},
					bad{what: "1970", value: 1000.0, want: []string{tbl.Name + "." + c.Name, "outside the years 2000-2200"}})
			}
			if c.Required {
				bads = append(bads, bad{what: "missing", drop: true, want: []string{tbl.Name + "." + c.Name + " is required: " + form}})
			}
			switch f := field.(type) {
			case *core.TextField:
				if f.Max > 0 {
					bads = append(bads, bad{what: "too long", value: strings.Repeat("x", f.Max+1), want: []string{tbl.Name + "." + c.Name + ": " + form}})
				}
				if f.Pattern != "" {
					bads = append(bads, bad{what: "against the pattern", value: "!!", want: []string{tbl.Name + "." + c.Name + ": " + form}})
				}
			case *core.NumberField:
				if f.Max != nil {
					bads = append(bads, bad{what: "above the maximum", value: *f.Max + 1, want: []string{tbl.Name + "." + c.Name + ": " + form}})
				}
				if f.Min != nil {
					bads = append(bads, bad{what: "below the minimum", value: *f.Min - 1, want: []string{tbl.Name + "." + c.Name + ": " + form}})
				}
				if f.OnlyInt {
					bads = append(bads, bad{what: "a fraction", value: 1.5, want: []string{tbl.Name + "." + c.Name + ": " + form}})
				}
			case *core.SelectField:
				want := tbl.Name + "." + c.Name + ": " + form
				if tbl.Name == crm.Orders && c.Name == "status" { // a rep's new order: two of the five
					want = "orders.status: draft or submitted"
				}
				bads = append(bads, bad{what: "not a choice", value: "nonsense", want: []string{want, `"nonsense"`}})
			case *core.EmailField:
				bads = append(bads, bad{what: "not an address", value: "not-an-address", want: []string{tbl.Name + "." + c.Name + ": " + form}})
			case *core.RelationField:
				if other := otherRepsRecord[c.Name]; other != "" {
					want := []string{"another customer"}
					if c.Name == tbl.Parent {
						want = []string{c.Name, "not in your scope"}
					}
					bads = append(bads, bad{what: "another rep's record", value: other, want: want},
						bad{what: "no such record", value: "nosuchrecord0001", want: []string{c.Name, "nosuchrecord0001"}})
				}
			}
			for _, b := range bads {
				r := validNew(tbl.Name)
				if b.drop {
					delete(r, c.Name)
				} else {
					r[c.Name] = b.value
				}
				res := send(tbl.Name, r)
				cases++
				if len(res.Rejected) != 1 {
					t.Errorf("%s.%s, %s (%v): not refused (%+v)", tbl.Name, c.Name, b.what, b.value, res)
					continue
				}
				for _, w := range b.want {
					if !strings.Contains(res.Rejected[0].Reason, w) {
						t.Errorf("%s.%s, %s (%v): the reason %q does not say %q", tbl.Name, c.Name, b.what, b.value, res.Rejected[0].Reason, w)
					}
				}
			}
		}
	}
	t.Logf("%d refusals checked", cases)
}

// TestRequiredColumnsMatchTheFields: a column is required on the wire
// exactly when its PocketBase field is required and the server does not
// fill it itself (a server-owned or author column, or one with a default).
func TestRequiredColumnsMatchTheFields(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	for _, tbl := range rsync.Tables {
		if tbl.ReadOnly {
			continue
		}
		collection, err := app.FindCollectionByNameOrId(tbl.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tbl.Columns {
			f := collection.Fields.GetByName(c.Name)
			if f == nil {
				continue
			}
			pbRequired := false
			switch x := f.(type) {
			case *core.TextField:
				pbRequired = x.Required
			case *core.NumberField:
				pbRequired = x.Required
			case *core.RelationField:
				pbRequired = x.Required
			case *core.SelectField:
				pbRequired = x.Required
			case *core.DateField:
				pbRequired = x.Required
			}
			serverFills := tbl.ServerOwned(c.Name) || c.Default != ""
			if want := pbRequired && !serverFills; c.Required != want {
				t.Errorf("%s.%s: required on the wire %v, but the field is required %v and the server fills it %v", tbl.Name, c.Name, c.Required, pbRequired, serverFills)
			}
			if c.Default != "" && !pbRequired {
				t.Errorf("%s.%s has a default but is not required", tbl.Name, c.Name)
			}
		}
	}
}

// TestARecordListedTwiceIsNotDroppedSilently: a push that names one record
// twice, differently, applies the first copy and refuses the second, saying
// so; the same copy twice is applied once.
func TestARecordListedTwiceIsNotDroppedSilently(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pullV2(testapp.RepA, "null", "").Timestamp
	res := s.push(testapp.RepA, ts, M{"customers": M{"created": []M{}, "deleted": []string{}, "updated": []M{
		{"id": testapp.CustomerA, "address": "first copy"},
		{"id": testapp.CustomerA, "address": "second copy"},
	}}})
	c, _ := s.app.FindRecordById(crm.Customers, testapp.CustomerA)
	if c.GetString("address") != "first copy" || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "listed more than once") {
		t.Fatalf("address %q, %+v", c.GetString("address"), res.Rejected)
	}
	// the same copy twice is no mistake worth refusing: applied once
	same := M{"id": testapp.CustomerA, "address": "same copy"}
	res = s.push(testapp.RepA, ts, M{"customers": M{"updated": []M{same, same}}})
	c, _ = s.app.FindRecordById(crm.Customers, testapp.CustomerA)
	if c.GetString("address") != "same copy" || len(res.Rejected) != 0 {
		t.Fatalf("the same copy twice: address %q, %+v", c.GetString("address"), res.Rejected)
	}
}

// TestAnOrderTakenAndSubmittedOfflineKeepsItsLines: a phone that took an
// order offline and submitted it before syncing pushes the order (submitted)
// and its new lines together; the lines are stored, then the order moves
// to submitted with the server's total — as WatermelonDB sends it (created,
// _changed empty) and as a plain client does (an update of a draft it had
// pushed, without _changed).
func TestAnOrderTakenAndSubmittedOfflineKeepsItsLines(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	ts := s.pullV2(testapp.RepA, "null", "").Timestamp
	lines := func(order string) M {
		return M{"created": []M{
			{"id": order + "l1", "order": order, "product": testapp.ProductCoffee, "quantity": 3.0, "_status": "created", "_changed": ""},
			{"id": order + "l2", "order": order, "product": testapp.ProductCups, "quantity": 10.0, "discount_pct": 10.0, "_status": "created", "_changed": ""},
		}}
	}
	check := func(order string, res pushResult) {
		t.Helper()
		if len(res.Rejected) > 0 {
			t.Fatalf("%s: refused %+v", order, res.Rejected)
		}
		o, err := s.app.FindRecordById(crm.Orders, order)
		if err != nil || o.GetString("status") != crm.StatusSubmitted || o.GetDateTime("submitted_at").IsZero() || o.GetFloat("total") != 37.5+0.9 {
			t.Fatalf("%s: %v status %q total %v", order, err, o.GetString("status"), o.GetFloat("total"))
		}
	}
	// WatermelonDB: created submitted, with its lines
	check("offlineorder001", s.push(testapp.RepA, ts, M{
		"orders":      M{"created": []M{{"id": "offlineorder001", "customer": testapp.CustomerA, "currency": "EUR", "status": "submitted", "_status": "created", "_changed": ""}}},
		"order_lines": lines("offlineorder001"),
	}))
	// a plain client: the draft pushed before, now submitted with new lines
	s.push(testapp.RepA, ts, M{"orders": M{"created": []M{{"id": "offlineorder002", "customer": testapp.CustomerA, "currency": "EUR"}}}})
	check("offlineorder002", s.push(testapp.RepA, ts, M{
		"orders":      M{"updated": []M{{"id": "offlineorder002", "status": "submitted"}}},
		"order_lines": lines("offlineorder002"),
	}))
	// an order already submitted on the server still refuses new lines
	res := s.push(testapp.RepA, ts, M{"order_lines": M{"created": []M{{"id": "lateline00000001", "order": "offlineorder001", "product": testapp.ProductCoffee, "quantity": 1.0}}}})
	if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "can no longer change") {
		t.Fatalf("a line for a submitted order: %+v", res.Rejected)
	}
}
