package sync

import (
	"context"
	"database/sql"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
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

// Changes is the body of a push: WatermelonDB's changes object.
type Changes map[string]TableChanges

// TableChanges are one table's changes.
type TableChanges struct {
	Created []Raw    `json:"created"`
	Updated []Raw    `json:"updated"`
	Deleted []string `json:"deleted"`
}

// ids lists the ids the changes name: created, updated, then deleted.
func (tc TableChanges) ids() []string {
	ids := make([]string, 0, len(tc.Created)+len(tc.Updated)+len(tc.Deleted))
	for _, raws := range [][]Raw{tc.Created, tc.Updated} {
		for _, raw := range raws {
			if id, ok := raw["id"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	return append(ids, tc.Deleted...)
}

// Raw is a record as the device sends it.
type Raw map[string]any

// PushRequest is a device's push.
type PushRequest struct {
	Rep          string
	Device       string // X-Device-Id, "" when the device sent none
	LastPulledAt int64
	Changes      Changes
	Now          time.Time
}

// Rejection is a record the server refused; the device keeps it unsynced.
type Rejection struct {
	Table  string `json:"table"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ConflictReport is a field the server settled.
type ConflictReport struct {
	Table      string `json:"table"`
	ID         string `json:"id"`
	Field      string `json:"field"`
	Resolution string `json:"resolution"`
}

// PushResult is the answer to a push.
type PushResult struct {
	ExperimentalRejectedIDs map[string][]string `json:"experimentalRejectedIds"`
	Rejected                []Rejection         `json:"rejected"`
	Conflicts               []ConflictReport    `json:"conflicts"`
	// SyncAgain: the server stored something other than what the phone
	// sent (values it computes, merged notes, a kept server value, a
	// restored record) or holds changes in the phone's scope that the phone
	// has not pulled. WatermelonDB pulls before it pushes, so the phone
	// sees them only if it syncs once more.
	SyncAgain bool `json:"sync_again"`
}

// DecodeChanges reads a push body strictly: an object of known tables,
// each with created and updated lists of objects and a deleted list of ids.
func DecodeChanges(body []byte) (Changes, error) {
	// One pass of encoding/json/v2, which follows RFC 7493 (I-JSON) by
	// default: no duplicate names, valid UTF-8. A record with two
	// "customer" keys is ambiguous; it is refused rather than guessed.
	var top map[string]jsontext.Value
	if err := jsonv2.Unmarshal(body, &top); err != nil {
		if _, syntax := errors.AsType[*jsontext.SyntacticError](err); syntax {
			return nil, badRequest("The push body is not valid JSON: %v", err)
		}
		return nil, badRequest("The push body must be WatermelonDB's changes object: %v", err)
	}
	if inner, ok := top["changes"]; ok && len(top) == 1 { // tolerate {"changes": {...}}
		top = nil
		if err := jsonv2.Unmarshal(inner, &top); err != nil {
			return nil, badRequest("The changes must be an object: %v", err)
		}
	}
	out := Changes{}
	for name, raw := range top {
		if _, ok := TableByName(name); !ok {
			return nil, badRequest("The push names an unknown table %q (synced tables: %s)", clip(name), tableNames())
		}
		var tc TableChanges
		if err := jsonv2.Unmarshal(raw, &tc, jsonv2.RejectUnknownMembers(true)); err != nil {
			return nil, badRequest("Table %s: expected {\"created\": [...], \"updated\": [...], \"deleted\": [...]}: %v", name, err)
		}
		out[name] = tc
	}
	return out, nil
}

func tableNames() string {
	names := make([]string, len(Tables))
	for i, t := range Tables {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// pusher applies one push inside one transaction.
type pusher struct {
	tx     core.App
	st     *store
	req    PushRequest
	writer string // who the change log credits: the device, or the rep
	base   int64  // the cursor the device's edits are based on
	baseAt time.Time
	res    PushResult
	// records the push already settled, so that a record listed twice is applied once
	done map[string]bool
	// orders whose lines changed: their totals are recomputed at the end
	touched map[string]bool
	// changes others made since the base, per table and record
	edits map[string]map[string][]edit
	// records the server deleted, per table
	deleted map[string]map[string]bool
	// role is the pushing user's role, read in the push's transaction
	role policy.Role
}

// Push applies a device's changes in one transaction: per-record outcomes,
// field-level three-way merge, every conflict and refusal logged to
// sync_conflicts. A retried push changes nothing.
func Push(ctx context.Context, app core.App, req PushRequest) (PushResult, error) {
	p := &pusher{req: req, done: map[string]bool{}, touched: map[string]bool{}}
	p.res.ExperimentalRejectedIDs = map[string][]string{}
	p.res.Rejected = []Rejection{}
	p.res.Conflicts = []ConflictReport{}
	p.writer = WriterID(req.Rep, req.Device)
	cache := statements(app)

	err := app.RunInTransaction(func(tx core.App) error {
		p.tx = tx
		// The statements run without the request's cancellation, which the
		// push checks itself between records: with a cancellable context
		// the SQLite driver starts a goroutine for every statement to
		// interrupt it, two thousand of them in a push of 1,000 records.
		st, err := newStore(context.WithoutCancel(ctx), tx, cache)
		if err != nil {
			return err
		}
		defer st.close()
		p.st = st
		if err := p.preload(); err != nil {
			return err
		}
		db := tx.NonconcurrentDB()
		if _, err := db.NewQuery("INSERT OR REPLACE INTO " + writerTable + " (id, device, user) VALUES (1, {:d}, {:u})").
			Bind(dbx.Params{"d": p.writer, "u": req.Rep}).Execute(); err != nil {
			return err
		}
		if err := p.resolveBase(); err != nil {
			return err
		}
		if err := db.NewQuery("SELECT role FROM users WHERE id = {:u}").Bind(dbx.Params{"u": req.Rep}).Row(&p.role); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("push: role of %s: %w", req.Rep, err)
		}
		for _, t := range Tables {
			tc := req.Changes[t.Name]
			for _, raw := range tc.Created {
				if err := p.upsert(ctx, t, raw, true); err != nil {
					return err
				}
			}
			for _, raw := range tc.Updated {
				if err := p.upsert(ctx, t, raw, false); err != nil {
					return err
				}
			}
		}
		for i := len(Tables) - 1; i >= 0; i-- {
			t := Tables[i]
			for _, id := range req.Changes[t.Name].Deleted {
				if err := p.delete(ctx, t, id); err != nil {
					return err
				}
			}
		}
		if err := p.updateTotals(); err != nil {
			return err
		}
		if !p.res.SyncAgain {
			if p.res.SyncAgain, err = p.unpulled(); err != nil {
				return err
			}
		}
		_, err = db.NewQuery("DELETE FROM " + writerTable).Execute()
		return err
	})
	if p.st != nil && len(p.st.missed) > 0 && cache != nil {
		cache.learn(p.st.missed) // for the next push, off this push's path
	}
	if err != nil {
		return PushResult{}, err
	}
	return p.res, nil
}

// resolveBase finds the version the device's edits are based on: the
// base packed into the timestamp of the pull before this push.
func (p *pusher) resolveBase() error {
	_, p.base = DecodeCursor(p.req.LastPulledAt)
	var at sql.NullInt64
	var stamp sql.NullString
	if err := p.tx.NonconcurrentDB().NewQuery("SELECT at, stamp FROM "+ChangesTable+" WHERE seq <= {:s} ORDER BY seq DESC LIMIT 1").
		Bind(dbx.Params{"s": p.base}).Row(&at, &stamp); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("push: time of base cursor: %w", err)
	}
	if ms := changeMillis(at.Int64, stamp.String); ms > 0 {
		p.baseAt = time.UnixMilli(ms).UTC()
	}
	return nil
}

// edit is a change another writer made to a record since the device's base.
type edit struct {
	Cols string
	At   int64
}

// editsOf returns the changes others made to a record since the base.
func (p *pusher) editsOf(table, id string) ([]edit, error) {
	if err := p.history(table); err != nil {
		return nil, err
	}
	return p.edits[table][id], nil
}

// deletedOnServer reports whether the server deleted a record with this id
// (the device's create or edit then restores it).
func (p *pusher) deletedOnServer(table, id string) (bool, error) {
	if err := p.history(table); err != nil {
		return false, err
	}
	return p.deleted[table][id], nil
}

// history reads, in one query per table on first use, what the change log
// knows of the records of table the push names: the changes others made
// since the base, and whether each was ever deleted.
func (p *pusher) history(table string) error {
	if p.edits == nil {
		p.edits, p.deleted = map[string]map[string][]edit{}, map[string]map[string]bool{}
	}
	if _, ok := p.edits[table]; ok {
		return nil
	}
	ids := p.req.Changes[table].ids()
	edits, deleted := map[string][]edit{}, map[string]bool{}
	st, err := p.st.stmt("history", func() string { return historyQuery })
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(p.st.ctx, p.base, p.writer, table, jsonIDs(ids), p.base, p.writer)
	if err != nil {
		return fmt.Errorf("push: history of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid, op, stamp string
		var byOthers bool
		var e edit
		if err := rows.Scan(&rid, &op, &e.Cols, &e.At, &stamp, &byOthers); err != nil {
			return err
		}
		if op == OpDelete {
			deleted[rid] = true
		}
		if byOthers {
			e.At = changeMillis(e.At, stamp)
			edits[rid] = append(edits[rid], e)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	p.edits[table], p.deleted[table] = edits, deleted
	return nil
}

// relationTargets maps the relation columns devices send to their tables.
var relationTargets = map[string]string{
	"customer": crm.Customers, "contact": crm.Contacts, "visit": crm.Visits,
	"order": crm.Orders, "product": crm.Products,
}

// preload loads, in a few queries, every record the push names, the
// records it links them to, and the chain of parents (order, customer)
// that places each in a customer's history.
func (p *pusher) preload() error {
	refs := map[string][]string{}
	for _, t := range Tables {
		tc := p.req.Changes[t.Name]
		refs[t.Name] = append(refs[t.Name], tc.ids()...)
		for _, raws := range [][]Raw{tc.Created, tc.Updated} {
			for _, raw := range raws {
				for col, target := range relationTargets {
					if id, ok := raw[col].(string); ok && id != "" {
						refs[target] = append(refs[target], id)
					}
				}
			}
		}
	}
	for len(refs) > 0 { // the records, then their parents, then theirs
		next := map[string][]string{}
		for _, t := range Tables {
			ids := refs[t.Name]
			if len(ids) == 0 {
				continue
			}
			if err := p.st.preload(t.Name, ids); err != nil {
				return err
			}
			target, ok := relationTargets[t.Parent]
			if !ok {
				continue
			}
			for _, id := range ids {
				if r := p.st.records[t.Name][id]; r != nil {
					if parent := r.GetString(t.Parent); parent != "" {
						if _, known := p.st.records[target][parent]; !known {
							next[target] = append(next[target], parent)
						}
					}
				}
			}
		}
		refs = next
	}
	return nil
}

// save applies the record rules to r (orig is the stored version, nil for
// a new record), validates it, and writes it.
func (p *pusher) save(t Table, r *core.Record, orig *row) error {
	find := p.st.finder()
	var err error
	var origRec crm.Stored
	if orig != nil {
		origRec = orig
	}
	switch t.Name {
	case crm.Customers:
		err = crm.PrepareCustomer(r, orig == nil)
	case crm.Contacts:
		err = crm.PrepareContact(r)
	case crm.Visits:
		err = crm.PrepareVisit(find, r, origRec)
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
	case crm.OrderLines:
		err = crm.PriceLine(find, r)
		p.touched[r.GetString("order")] = true
		if orig != nil {
			p.touched[orig.GetString("order")] = true
		}
	}
	var fe *crm.FieldError
	if errors.As(err, &fe) {
		return refuse("%s", fe.Error())
	}
	if err != nil {
		return err
	}
	if err := p.st.validate(r, orig); err != nil {
		return err
	}
	if orig == nil {
		return p.st.insert(r)
	}
	return p.st.update(r, orig)
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

// noteDifferences sets SyncAgain when the stored record r differs from
// what the device sent (raw) in any column the device holds: a value the
// server computed or stamped, merged notes, a server value kept.
func (p *pusher) noteDifferences(t Table, r interface{ GetRaw(string) any }, raw Raw) {
	if p.res.SyncAgain {
		return
	}
	for _, c := range t.Columns {
		if c.stamp() {
			continue
		}
		sent, ok := raw[c.Name]
		if !ok {
			continue
		}
		if !conflict.Equal(toWire(c, r.GetRaw(c.Name)), sent) {
			p.res.SyncAgain = true
			return
		}
	}
}

// unpulledQuery finds a change in the rep's scope, made by someone else
// after the position the device pulled up to.
const unpulledQuery = `SELECT EXISTS (SELECT 1 FROM ` + ChangesTable + ` WHERE seq > {:top} AND device != {:w} AND
	(tbl = 'products' OR owner_from = {:rep} OR owner_to = {:rep} OR customer IN (SELECT id FROM customers WHERE owner = {:rep})))`

// unpulled reports whether the server holds changes in the rep's scope
// that the device has not pulled (committed after its last pull).
func (p *pusher) unpulled() (bool, error) {
	top, _ := DecodeCursor(p.req.LastPulledAt)
	var found bool
	err := p.tx.NonconcurrentDB().NewQuery(unpulledQuery).
		Bind(dbx.Params{"top": top, "w": p.writer, "rep": p.req.Rep}).Row(&found)
	if err != nil {
		return false, fmt.Errorf("push: changes not pulled: %w", err)
	}
	return found, nil
}

// reject refuses a record: reported to the device, logged for admins.
func (p *pusher) reject(t Table, id string, raw any, reason string) error {
	p.res.ExperimentalRejectedIDs[t.Name] = append(p.res.ExperimentalRejectedIDs[t.Name], id)
	p.res.Rejected = append(p.res.Rejected, Rejection{Table: t.Name, ID: id, Reason: reason})
	return p.logConflict(t.Name, id, "", nil, raw, conflict.Rejected, reason)
}

func (p *pusher) logConflict(table, id, field string, server, client any, resolution, rule string) error {
	if field != "" {
		p.res.Conflicts = append(p.res.Conflicts, ConflictReport{Table: table, ID: id, Field: field, Resolution: resolution})
	}
	if resolution == conflict.Rejected {
		// refused again (the device keeps the record and sends it at every
		// sync): one row, counted, holding the latest version
		res, err := p.tx.NonconcurrentDB().NewQuery(`UPDATE ` + crm.SyncConflicts + ` SET count = count + 1,
			last_seen_at = {:now}, client_value = {:client}, updated = {:now}
			WHERE collection = {:t} AND record_id = {:id} AND resolution = 'rejected' AND user = {:u} AND device = {:d} AND rule = {:rule}`).
			Bind(dbx.Params{"now": types.NowDateTime().String(), "client": string(jsonValue(client)), "t": table, "id": clip(id),
				"u": p.req.Rep, "d": clip(p.req.Device), "rule": clip500(rule)}).Execute()
		if err != nil {
			return fmt.Errorf("log refusal of %s/%s: %w", table, id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	c, err := p.tx.FindCachedCollectionByNameOrId(crm.SyncConflicts)
	if err != nil {
		return err
	}
	r := core.NewRecord(c)
	r.Load(map[string]any{
		"collection": table, "record_id": clip(id), "field": field,
		"server_value": jsonValue(server), "client_value": jsonValue(client),
		"resolution": resolution, "rule": clip500(rule), "user": p.req.Rep, "device": clip(p.req.Device),
		"count": 1, "last_seen_at": types.NowDateTime(),
	})
	if err := p.st.insert(r); err != nil {
		return fmt.Errorf("log conflict on %s/%s: %w", table, id, err)
	}
	return nil
}

func jsonValue(v any) types.JSONRaw {
	data, err := json.Marshal(v)
	if err != nil || len(data) > 1<<20 {
		return types.JSONRaw(`null`)
	}
	return types.JSONRaw(data)
}

func clip500(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// recordError is a refusal of one record, as opposed to a failure of the push.
type recordError struct{ reason string }

func (e *recordError) Error() string { return e.reason }

func refuse(format string, args ...any) error {
	return &recordError{reason: fmt.Sprintf(format, args...)}
}

// customerOf returns the customer a record of t with the given parent id
// belongs to, and that customer's owner.
func (p *pusher) customerOf(t Table, parent string) (customer, order *row, err error) {
	switch t.Parent {
	case "customer":
		customer, err = p.st.find(crm.Customers, parent)
	case "order":
		order, err = p.st.find(crm.Orders, parent)
		if err == nil && order != nil {
			customer, err = p.st.find(crm.Customers, order.GetString("customer"))
		}
	}
	return customer, order, err
}

// inScope checks that r (existing, or about to be written) belongs to a
// customer the rep owns; for order lines it also returns the order.
func (p *pusher) inScope(t Table, r crm.Stored) (order *row, ok bool, err error) {
	if t.Name == crm.Customers {
		return nil, r.GetString("owner") == p.req.Rep, nil
	}
	customer, order, err := p.customerOf(t, r.GetString(t.Parent))
	if err != nil || customer == nil {
		return order, false, err
	}
	return order, customer.GetString("owner") == p.req.Rep, nil
}

// decode converts the device's wire values into stored values, refusing
// unknown columns and values of the wrong type.
func decode(t Table, raw Raw) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range raw {
		switch k {
		case "id", "_status", "_changed":
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
			if tm.Year() < 1900 || tm.Year() > 2200 {
				return nil, fmt.Errorf("%d ms is outside the years 1900-2200", int64(x))
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

// mayWrite refuses what the policy keeps from the pushing user's role (a
// manager reads the team; only reps write).
func (p *pusher) mayWrite(t Table, action policy.Action) error {
	if policy.For(t.Name).Writes(p.role, action) {
		return nil
	}
	if p.role == policy.Rep && action == policy.Delete && t.Name == crm.Customers {
		return refuse("customers are not deleted from a device; ask an admin")
	}
	return refuse("a %s cannot %s %s", orNoRole(p.role), action, t.Name)
}

func orNoRole(r policy.Role) string {
	if r == "" {
		return "user without a role"
	}
	return string(r)
}

func (p *pusher) upsert(ctx context.Context, t Table, raw Raw, created bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, _ := raw["id"].(string)
	key := t.Name + "/" + id
	if p.done[key] {
		return nil
	}
	p.done[key] = true
	if !crm.ValidID(id) {
		return p.reject(t, id, raw, fmt.Sprintf("invalid id %q: use 15 to 36 characters of A-Z, a-z, 0-9, _ and -", clip(id)))
	}
	if t.ReadOnly {
		return p.reject(t, id, raw, t.Name+" are read-only for devices")
	}
	// Creates and updates refuse (or fail validation) before they write,
	// and each is one statement: no savepoint needed.
	err := p.apply(t, id, raw, created)
	var re *recordError
	switch {
	case errors.As(err, &re):
		return p.reject(t, id, raw, re.reason)
	case err != nil && isValidation(err):
		return p.reject(t, id, raw, "invalid record: "+err.Error())
	}
	return err
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

func (p *pusher) create(t Table, collection *core.Collection, id string, raw Raw, values map[string]any) error {
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
	if t.Name == crm.Orders {
		switch status := r.GetString("status"); status {
		case "", crm.StatusDraft, crm.StatusSubmitted:
		default:
			return refuse("a rep cannot create an order with status %q: reps create drafts and submit them", status)
		}
	}
	if t.Name != crm.Customers {
		order, ok, err := p.inScope(t, r)
		if err != nil {
			return err
		}
		if !ok {
			return refuse("%s %s is not in your scope", t.Parent, clip(r.GetString(t.Parent)))
		}
		if err := p.checkLine(t, r, order, true); err != nil {
			return err
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

// changedColumns reads WatermelonDB's _changed ("a,b,c").
func changedColumns(raw Raw) []string {
	s, _ := raw["_changed"].(string)
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// serverEdits returns, per column, the time of the latest change to r made
// since the device's base version by anyone but this device.
func (p *pusher) serverEdits(t Table, id string) (map[string]time.Time, error) {
	rows, err := p.editsOf(t.Name, id)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, r := range rows {
		at := time.UnixMilli(r.At).UTC()
		cols := strings.Split(strings.Trim(r.Cols, ","), ",")
		if r.Cols == "*" {
			cols = nil
			for _, c := range t.DataColumns() {
				cols = append(cols, c.Name)
			}
		}
		for _, c := range cols {
			if at.After(out[c]) {
				out[c] = at
			}
		}
	}
	return out, nil
}

func (p *pusher) update(t Table, existing, order *row, raw Raw, values map[string]any, created bool) error {
	spec := policy.For(t.Name)
	cols := changedColumns(raw)
	if created { // a retried create: every column the device sent is its own
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
			if name == "id" {
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
		if created && (rule == policy.FieldServer || name == spec.Author) {
			continue // a retried create carries the device's defaults for these
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
	_, err := p.tx.NonconcurrentDB().NewQuery("INSERT INTO " + ChangesTable +
		" (tbl, record_id, op, customer, cols, device, at) VALUES ({:t}, {:id}, 'u', {:c}, '', {:d}, {:at})").
		Bind(dbx.Params{"t": t.Name, "id": id, "c": customer, "d": p.writer, "at": p.req.Now.UnixMilli()}).Execute()
	return err
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
