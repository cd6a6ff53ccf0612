package sync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/policy"
	"rounds/sync/conflict"
)

// Applying one pushed record: decode, check, merge, save.

// save applies the record rules to r (orig is the stored version, nil for
// a new record), validates it, and writes it.
func (p *pusher) save(t Table, r *core.Record, orig *row) (err error) {
	find := p.st.finder()
	var origRec crm.Stored
	if orig != nil {
		origRec = orig
	}
	switch t.Name {
	case crm.Customers:
		err = crm.PrepareCustomer(r, orig == nil)
		crm.ScheduleVisits(r, p.coverage(), p.req.Now)
	case crm.Contacts:
		err = crm.PrepareContact(r)
	case crm.Visits:
		err = crm.PrepareVisit(find, r, origRec)
		// the customer's last visit moves only with a check-in or a move
		if orig == nil || orig.GetString("checked_in_at") != r.GetString("checked_in_at") || orig.GetString("customer") != r.GetString("customer") {
			p.visited[r.GetString("customer")] = true
			if orig != nil {
				p.visited[orig.GetString("customer")] = true
			}
		}
	case crm.FollowUps:
		err = crm.PrepareFollowUp(find, r, origRec)
	case crm.Orders:
		err = crm.PrepareOrder(find, r, origRec, func() time.Time { return p.req.Now })
		if orig == nil {
			r.Set("total", 0)
		} else if err == nil && r.GetString("currency") != orig.GetString("currency") {
			var lines []float64
			if lines, err = p.st.lineTotals(r.Id); err == nil {
				err = crm.CheckCurrencyChange(orig.GetString("currency"), r.GetString("currency"), len(lines))
			}
		}
	case crm.Opportunities:
		var history bool
		if history, err = crm.PrepareOpportunity(find, r, origRec, p.req.Now); err == nil {
			r.Set("changed_by", p.req.Rep)
			if history {
				defer func() {
					if err == nil {
						err = StageHistory(p.tx, p.st.insert, r, p.req.Rep, p.req.Now)
					}
				}()
			}
		}
	case crm.OrderLines:
		err = crm.PriceLine(find, r)
		p.touched[r.GetString("order")] = true
		if orig != nil {
			p.touched[orig.GetString("order")] = true
		}
	}
	var fe *crm.FieldError
	if errors.As(err, &fe) {
		return refuse("%s", explainRule(t, r.Collection(), fe))
	}
	if err != nil {
		return err
	}
	if err := p.st.validate(r, orig); err != nil {
		return err
	}
	if orig == nil {
		if err := p.stampScope(t, r); err != nil {
			return err
		}
		return p.st.insert(r)
	}
	return p.st.update(r, orig)
}

// stampScope sets a new record's scope columns (policy/scope.go) from its
// customer as this push's store holds it, so that the insert trigger, which
// fills only records written without them, need not write the row again.
func (p *pusher) stampScope(t Table, r *core.Record) error {
	if !policy.For(t.Name).ScopeColumns || r.Collection().Fields.GetByName(policy.ScopeTeam) == nil {
		return nil
	}
	owner := r.GetString("owner")
	if t.Name != crm.Customers {
		customer, _, err := p.customerOf(t, r.GetString(t.Parent))
		if err != nil {
			return err
		}
		owner = ""
		if customer != nil {
			owner = customer.GetString("owner")
		}
		r.Set(policy.ScopeOwner, owner)
	}
	team, ok := p.teams[owner]
	if !ok {
		if err := p.st.row(teamQuery, dbx.Params{"u": owner}, &team); err != nil {
			return fmt.Errorf("team of %s: %w", owner, err)
		}
		if p.teams == nil {
			p.teams = map[string]string{}
		}
		p.teams[owner] = team
	}
	r.Set(policy.ScopeTeam, team)
	return nil
}

// coverage is the company's settings, read once per push.
func (p *pusher) coverage() crm.Coverage {
	if p.cv == nil {
		cv := crm.DefaultCoverage
		if r, err := p.tx.FindRecordById(crm.CompanySettings, crm.CompanySettingsID); err == nil {
			cv = crm.CoverageOf(r)
		}
		p.cv = &cv
	}
	return *p.cv
}

// updateVisitCycles sets last_visit_at (and so next_visit_due) of the
// customers whose visits the push wrote or deleted.
func (p *pusher) updateVisitCycles() error {
	for _, id := range keys(p.visited) {
		customer, err := p.st.find(crm.Customers, id)
		if err != nil || customer == nil {
			if err != nil {
				return err
			}
			continue
		}
		var last string
		if err := p.st.row(crm.LastVisitQuery, dbx.Params{"c": id}, &last); err != nil {
			return fmt.Errorf("push: last visit of %s: %w", id, err)
		}
		if customer.GetString("last_visit_at") == last {
			continue
		}
		edited := customer.edit()
		edited.Set("last_visit_at", last)
		crm.ScheduleVisits(edited, p.coverage(), p.req.Now)
		if err := p.st.update(edited, customer); err != nil {
			return err
		}
		p.res.SyncAgain = true
	}
	return nil
}

// updateTotals recomputes the totals of orders whose lines changed.
func (p *pusher) updateTotals() error {
	for _, id := range keys(p.touched) {
		order, err := p.st.find(crm.Orders, id)
		if err != nil || order == nil {
			if err != nil {
				return err
			}
			continue
		}
		totals, err := p.st.lineTotals(id)
		if err != nil {
			return err
		}
		total := crm.SumCents(totals)
		if crm.Cents(order.GetFloat("total")) == crm.Cents(total) {
			continue
		}
		edited := order.edit()
		edited.Set("total", total)
		if err := p.st.update(edited, order); err != nil {
			return err
		}
		p.res.SyncAgain = true
	}
	return nil
}

// decode converts the device's wire values into stored values, refusing
// unknown columns and values of the wrong type.
func decode(t Table, raw Raw) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range raw {
		switch k {
		case "id", "_status", "_changed", RemovedColumn: // removed_at is the server's tombstone
			continue
		}
		c, ok := t.Column(k)
		if !ok {
			return nil, refuse("unknown column %s.%s", t.Name, clip(k))
		}
		sv, err := fromWire(c, v)
		if err != nil {
			return nil, refuse("%s.%s: %v", t.Name, k, err)
		}
		out[k] = sv
	}
	return out, nil
}

// fromWire converts one wire value to the stored form.
func fromWire(c Column, v any) (any, error) {
	switch c.Kind {
	case Text:
		switch x := v.(type) {
		case nil:
			return "", nil
		case string:
			return x, nil
		}
		return nil, fmt.Errorf("must be text, got %s", wireType(v))
	case Relation:
		switch x := v.(type) {
		case nil:
			return "", nil
		case string:
			return x, nil
		}
		return nil, fmt.Errorf("must be an id or null, got %s", wireType(v))
	case Number:
		x, ok := v.(float64)
		if !ok {
			if v == nil {
				return 0.0, nil
			}
			return nil, fmt.Errorf("must be a number, got %s", wireType(v))
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("must be a finite number")
		}
		return x, nil
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case nil:
			return false, nil
		}
		return nil, fmt.Errorf("must be true or false, got %s", wireType(v))
	case Date:
		switch x := v.(type) {
		case nil:
			return "", nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) {
				return nil, fmt.Errorf("must be whole epoch milliseconds")
			}
			tm := time.UnixMilli(int64(x)).UTC()
			if c.stamp() && (tm.Before(MinDate) || !tm.Before(MaxDate)) {
				// a device's created/updated are only read as its edit time
				// (clamped); WatermelonDB's default for a number is 0
				return "", nil
			}
			if tm.Before(MinDate) || !tm.Before(MaxDate) {
				if s := time.Unix(int64(x), 0).UTC(); !s.Before(MinDate) && s.Before(MaxDate) {
					return nil, fmt.Errorf("%d is %s in epoch milliseconds, outside the years 2000-2200; it looks like seconds: send milliseconds (%d)", int64(x), tm.Format(time.DateOnly), int64(x)*1000)
				}
				return nil, fmt.Errorf("%d is %s in epoch milliseconds, outside the years 2000-2200; send epoch milliseconds, or null", int64(x), tm.Format("2006-01-02"))
			}
			return tm.Format(types.DefaultDateLayout), nil
		}
		return nil, fmt.Errorf("must be epoch milliseconds or null, got %s", wireType(v))
	}
	return v, nil
}

func wireType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("text %q", clip(x))
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// stored returns the stored value of column c of r, in wire-comparable form.
func stored(c Column, r *row) any {
	v := r.GetRaw(c.Name)
	switch c.Kind {
	case Date:
		dt, _ := v.(types.DateTime)
		if dt.IsZero() {
			return ""
		}
		return dt.String()
	case Number:
		return r.GetFloat(c.Name)
	case Bool:
		return r.GetBool(c.Name)
	default:
		return r.GetString(c.Name)
	}
}

func (p *pusher) upsert(ctx context.Context, t Table, raw Raw, created bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, _ := raw["id"].(string)
	key := t.Name + "/" + id
	if first, ok := p.copies[key]; ok {
		if sameRecord(first, raw) {
			return nil // the same copy again: applied once
		}
		return p.reject(t, id, raw, "this record is listed more than once in the push, differently: its first copy was applied, this one was not; send each record once")
	}
	p.copies[key] = raw
	if !crm.ValidID(id) {
		return p.reject(t, id, raw, fmt.Sprintf("invalid id %q: use 15 to 36 characters of A-Z, a-z, 0-9, _ and -", clip(id)))
	}
	if t.ReadOnly {
		return p.reject(t, id, raw, t.Name+" are read-only for devices")
	}
	// Creates and updates refuse (or fail validation) before they write,
	// and each is one statement: no savepoint needed.
	return p.refused(t, id, raw, p.apply(t, id, raw, created))
}

// refused turns the error of applying raw into its refusal, reported to
// the device with the reason (a record rule's, or the fields' validation
// in words); any other error is the server's and is returned.
func (p *pusher) refused(t Table, id string, raw Raw, err error) error {
	var re *recordError
	switch {
	case errors.As(err, &re):
		return p.reject(t, id, raw, re.reason)
	case err != nil && isValidation(err):
		collection, cerr := p.tx.FindCachedCollectionByNameOrId(t.Name)
		if cerr != nil {
			return cerr
		}
		return p.reject(t, id, raw, explain(t, collection, err, raw))
	}
	return err
}

// sameRecord reports whether two copies of a pushed record say the same.
func sameRecord(a, b Raw) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !conflict.Equal(v, w) {
			return false
		}
	}
	return true
}

// isValidation reports whether err is PocketBase's (ozzo) validation error:
// a problem with the record, not with the server.
func isValidation(err error) bool {
	var v interface{ Filter() error }
	return errors.As(err, &v)
}

func (p *pusher) apply(t Table, id string, raw Raw, created bool) error {
	values, err := decode(t, raw)
	if err != nil {
		return err
	}
	collection, err := p.tx.FindCachedCollectionByNameOrId(t.Name)
	if err != nil {
		return err
	}
	existing, err := p.st.find(t.Name, id)
	if err != nil {
		return err
	}
	action := policy.Update
	if existing == nil {
		action = policy.Create
	}
	if err := p.mayWrite(t, action); err != nil {
		return err
	}
	if existing == nil {
		return p.create(t, collection, id, raw, values)
	}
	order, ok, err := p.inScope(t, existing)
	if err != nil {
		return err
	}
	if !ok {
		if created {
			return refuse("id %s is already in use by another record", id)
		}
		return refuse("this %s is not in your scope (its customer belongs to another rep now)", singular(t.Name))
	}
	return p.update(t, existing, order, raw, values, created)
}

func singular(table string) string {
	return strings.TrimSuffix(strings.ReplaceAll(table, "_", " "), "s")
}

func (p *pusher) create(t Table, collection *core.Collection, id string, raw Raw, values map[string]any) (err error) {
	r := core.NewRecord(collection)
	r.Id = id
	spec := policy.For(t.Name)
	for _, c := range t.Columns { // (not DataColumns: this runs per record, and that allocates)
		if c.stamp() || spec.DeviceField(c.Name, true) != policy.FieldFree {
			continue
		}
		if v, ok := values[c.Name]; ok {
			if id, ok := plainRelation(collection.Fields.GetByName(c.Name), v); ok {
				r.SetRaw(c.Name, id)
			} else {
				r.Set(c.Name, v)
			}
		}
	}
	if col := spec.Author; col != "" {
		if v, _ := values[col].(string); v != "" && v != p.req.Rep {
			return refuse("%s.%s is set by the server to the signed-in rep; it cannot name someone else", t.Name, col)
		}
		r.Set(col, p.req.Rep)
	}
	if t.Name == crm.FollowUps {
		r.Set("promised_by", p.req.Rep) // even when the grace hands it to the customer's new owner below
	}
	if t.Name == crm.Orders {
		switch status := r.GetString("status"); status {
		case "", crm.StatusDraft, crm.StatusSubmitted:
		default:
			return refuse("%s.status: draft or submitted (reps create drafts and submit them; the back office confirms and fulfils); got %q", t.Name, status)
		}
	}
	if err := checkRequired(t, collection, raw); err != nil {
		return err
	}
	if t.Name != crm.Customers {
		order, owner, ok, serr := p.scope(t, r, false)
		if serr != nil {
			return serr
		}
		if !ok {
			return refuse("%s %s is not in your scope", t.Parent, clip(r.GetString(t.Parent)))
		}
		if err := p.checkLine(t, r, order, true); err != nil {
			return err
		}
		if t.Name == crm.FollowUps && owner != p.req.Rep && (r.GetString("status") == crm.FollowUpOpen || r.GetString("status") == "") {
			// promised before a territory change: the new owner keeps it
			r.Set("assignee", owner)
			defer func() {
				if err == nil {
					err = p.handOver(r, owner)
				}
			}()
		}
	}
	// an edit beats a delete: a record the server deleted comes back
	wasDeleted, err := p.deletedOnServer(t.Name, id)
	if err != nil {
		return err
	}
	if err := p.save(t, r, nil); err != nil {
		return err
	}
	p.noteDifferences(t, r, raw)
	if wasDeleted {
		if err := p.logConflict(t.Name, id, "*", nil, raw, conflict.Restored, conflict.RuleEditBeatsDel); err != nil {
			return err
		}
	}
	return nil
}

// checkLine enforces the order rules on a line: its order must be a draft,
// its product on sale.
func (p *pusher) checkLine(t Table, r crm.Stored, order *row, changedProduct bool) error {
	if t.Name != crm.OrderLines || order == nil {
		return nil
	}
	if status := order.GetString("status"); status != crm.StatusDraft {
		return refuse("order %s is %s: its lines can no longer change", order.Id, status)
	}
	if changedProduct {
		product, err := p.st.find(crm.Products, r.GetString("product"))
		if err != nil {
			return err
		}
		if product != nil && !product.GetBool("active") {
			return refuse("product %s is no longer sold", product.GetString("sku"))
		}
	}
	return nil
}

// changedColumns reads WatermelonDB's _changed ("a,b,c"); full reports a
// record sent without _changed, whose every column counts as changed.
func changedColumns(raw Raw) (cols []string, full bool) {
	v, ok := raw["_changed"]
	if !ok {
		return nil, true
	}
	s, _ := v.(string)
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out, false
}

func (p *pusher) update(t Table, existing, order *row, raw Raw, values map[string]any, created bool) error {
	spec := policy.For(t.Name)
	cols, full := changedColumns(raw)
	// a retried create, or a record sent without _changed (a client that
	// sends whole records or only what changed): every column sent counts
	// as changed, and the server's own columns in it are stale copies
	own := created || full
	if own {
		cols = cols[:0]
		for k := range values {
			cols = append(cols, k)
		}
		slices.Sort(cols)
	}
	edits, err := p.serverEdits(t, existing.Id)
	if err != nil {
		return err
	}
	var deviceAt time.Time
	if ms, ok := raw["updated"].(float64); ok {
		deviceAt = time.UnixMilli(int64(ms)).UTC()
	}
	deviceAt = conflict.ClampDeviceTime(deviceAt, p.baseAt, p.req.Now)

	// what the device changed and the server holds differently
	type diff struct {
		c              Column
		client, server any
	}
	var diffs []diff
	for _, name := range cols {
		c, ok := t.Column(name)
		if !ok {
			if name == "id" || name == RemovedColumn {
				continue
			}
			return refuse("unknown column %s.%s in _changed", t.Name, clip(name))
		}
		if name == "created" || name == "updated" {
			continue
		}
		client, sent := values[name]
		if !sent {
			continue
		}
		server := stored(c, existing)
		if conflict.Equal(client, server) {
			continue
		}
		rule := spec.DeviceField(name, false)
		if own && (rule == policy.FieldServer || name == spec.Author) {
			continue // a retried create or a whole record carries copies of these
		}
		if name == t.Parent {
			return refuse("a %s cannot move to another %s", singular(t.Name), t.Parent)
		}
		if rule == policy.FieldFixed {
			return refuse("%s.%s cannot be changed once the record exists", t.Name, name)
		}
		diffs = append(diffs, diff{c, client, server})
	}
	if len(diffs) == 0 {
		p.noteDifferences(t, existing, raw) // a retry: what the device holds may still differ
		return nil
	}
	r := existing.edit() // the store keeps the stored version until the write succeeds
	if t.Name == crm.Orders && r.GetString("status") != crm.StatusDraft {
		return refuse("order %s is %s: it can no longer change on a device", r.Id, r.GetString("status"))
	}
	if err := p.checkLine(t, r, order, false); err != nil {
		return err
	}

	applied := false
	var conflicts []func() error
	for _, d := range diffs {
		name := d.c.Name
		if t.Name == crm.Orders && name == "status" {
			to, _ := d.client.(string)
			if to != crm.StatusSubmitted && to != crm.StatusCancelled && to != crm.StatusDraft {
				return refuse("a rep cannot set an order to %q: reps submit or cancel drafts, the back office confirms and fulfils", to)
			}
		}
		at, changed := edits[name]
		out := conflict.Resolve(conflict.Field{
			ServerOwned:   spec.DeviceField(name, false) == policy.FieldServer,
			Note:          NoteColumns[t.Name+"."+name],
			Client:        d.client,
			Server:        d.server,
			ServerChanged: changed,
			ServerAt:      at,
			DeviceAt:      deviceAt,
		})
		if !conflict.Equal(out.Value, d.server) {
			r.Set(name, out.Value)
			applied = true
			if name == "product" {
				if err := p.checkLine(t, r, order, true); err != nil {
					return err
				}
			}
		}
		if out.Conflict {
			server, client := toWire(d.c, d.server), toWire(d.c, d.client)
			conflicts = append(conflicts, func() error {
				return p.logConflict(t.Name, r.Id, name, server, client, out.Resolution, out.Rule)
			})
		}
	}
	if applied {
		if err := p.save(t, r, existing); err != nil {
			return err
		}
		p.noteDifferences(t, r, raw)
	} else if len(conflicts) > 0 {
		p.res.SyncAgain = true
		// the device keeps its value until it pulls the server's: make
		// sure its next pull carries the record
		if err := p.touch(t, r.Id, r.GetString(t.Parent)); err != nil {
			return err
		}
	}
	for _, log := range conflicts {
		if err := log(); err != nil {
			return err
		}
	}
	return nil
}

// touch logs a change of record id (whose parent is parent) without
// changing it, so that devices pull it.
func (p *pusher) touch(t Table, id, parent string) error {
	customer := id
	if t.Name != crm.Customers {
		c, _, err := p.customerOf(t, parent)
		if err != nil {
			return err
		}
		if c != nil {
			customer = c.Id
		}
	}
	return p.st.execNamed(touchQuery,
		dbx.Params{"t": t.Name, "id": id, "c": customer, "d": p.writer, "at": p.req.Now.UnixMilli()})
}

func (p *pusher) delete(ctx context.Context, t Table, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := t.Name + "/" + id + "/delete"
	if p.done[key] {
		return nil
	}
	p.done[key] = true
	if t.ReadOnly {
		return p.reject(t, id, nil, t.Name+" are read-only for devices")
	}
	// Every refusal comes before the first write (planDelete included), so
	// a refused delete leaves nothing behind without a savepoint.
	err := func() error {
		r, err := p.st.find(t.Name, id)
		if err != nil || r == nil {
			return err // already gone: nothing to do
		}
		order, ok, err := p.inScope(t, r)
		if err != nil {
			return err
		}
		if !ok {
			return refuse("this %s is not in your scope", singular(t.Name))
		}
		if err := p.mayWrite(t, policy.Delete); err != nil {
			return err
		}
		switch {
		case t.Name == crm.Orders && r.GetString("status") != crm.StatusDraft:
			return refuse("order %s is %s: it can no longer be deleted", id, r.GetString("status"))
		}
		if err := p.checkLine(t, r, order, false); err != nil {
			return err
		}
		edits, err := p.serverEdits(t, id)
		if err != nil {
			return err
		}
		if len(edits) > 0 {
			p.res.SyncAgain = true // the record lives on: the phone pulls it back
			if err := p.touch(t, r.Id, r.GetString(t.Parent)); err != nil {
				return err
			}
			return p.logConflict(t.Name, id, "*", nil, "deleted", conflict.Restored, conflict.RuleEditBeatsDel)
		}
		if t.Name == crm.OrderLines {
			p.touched[r.GetString("order")] = true
		}
		if t.Name == crm.Visits {
			p.visited[r.GetString("customer")] = true
		}
		if err := p.st.delete(r); err != nil {
			if errors.Is(err, errStillReferenced) {
				return refuse("this %s cannot be deleted: it is %v", singular(t.Name), err)
			}
			return err
		}
		return nil
	}()
	var re *recordError
	if errors.As(err, &re) {
		return p.reject(t, id, nil, re.reason)
	}
	return err
}
