package sync

import (
	"context"
	"database/sql"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/policy"
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
	// Grace is how long after a territory change the customer's previous
	// owner may still push work under it (0: not at all).
	Grace time.Duration
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
	// deletions the push already settled, so that one listed twice is applied once
	done map[string]bool
	// the first copy of each record created or updated: a repeat that says the
	// same is applied once, one that does not is refused
	copies map[string]Raw
	// orders whose lines changed: their totals are recomputed at the end
	touched map[string]bool
	// customers whose visits changed: their last visit is recomputed at the end
	visited map[string]bool
	cv      *crm.Coverage
	// changes others made since the base, per table and record
	edits map[string]map[string][]edit
	// records the server deleted, per table
	deleted map[string]map[string]bool
	// role is the pushing user's role, read in the push's transaction
	role policy.Role
	// left caches formerly: where each customer left the rep within the grace (0: not)
	left map[string]int64
	// teams caches each owner's team (scope_team), read once per push
	teams map[string]string
}

// Push applies a device's changes in one transaction: per-record outcomes,
// field-level three-way merge, every conflict and refusal logged to
// sync_conflicts. A retried push changes nothing.
func Push(ctx context.Context, app core.App, req PushRequest) (PushResult, error) {
	p := &pusher{req: req, done: map[string]bool{}, copies: map[string]Raw{}, touched: map[string]bool{}, visited: map[string]bool{}}
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
		if err := st.execNamed(setWriterQuery,
			dbx.Params{"d": p.writer, "u": req.Rep}); err != nil {
			return err
		}
		if err := p.resolveBase(); err != nil {
			return err
		}
		if err := st.row(roleQuery, dbx.Params{"u": req.Rep}, &p.role); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("push: role of %s: %w", req.Rep, err)
		}
		held, err := p.holdStatuses()
		if err != nil {
			return err
		}
		for _, t := range Tables {
			tc := req.Changes[t.Name]
			for _, raw := range tc.Created {
				if err := p.upsert(ctx, t, held.first(t, raw), true); err != nil {
					return err
				}
			}
			for _, raw := range tc.Updated {
				if err := p.upsert(ctx, t, held.first(t, raw), false); err != nil {
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
		if err := p.applyHeld(ctx, held); err != nil {
			return err
		}
		if err := p.updateTotals(); err != nil {
			return err
		}
		if err := p.updateVisitCycles(); err != nil {
			return err
		}
		if !p.res.SyncAgain {
			if p.res.SyncAgain, err = p.unpulled(); err != nil {
				return err
			}
		}
		return st.execNamed(clearWriterQuery, nil)
	})
	if p.st != nil && len(p.st.missed) > 0 && cache != nil {
		cache.learn(p.st.missed) // for the next push, off this push's path
	}
	if err != nil {
		return PushResult{}, err
	}
	return p.res, nil
}

// relationTargets maps the relation columns devices send to their tables.
var relationTargets = map[string]string{
	"customer": crm.Customers, "contact": crm.Contacts, "visit": crm.Visits,
	"order": crm.Orders, "product": crm.Products, "opportunity": crm.Opportunities, "stage": crm.Stages,
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

// heldStatuses are the orders of a push that leave draft in it while the
// same push changes their lines: a phone that took an order offline and
// submitted it sends the order (submitted) and its new lines together, and
// parents go first, so the lines would find the order frozen. Such an
// order is applied as a draft first, and its status after every line.
type heldStatuses map[string]Raw // order id -> the status change, applied last

// holdStatuses finds them: an order sent with a status other than draft,
// stored as a draft or not at all, in a push that also carries order lines.
func (p *pusher) holdStatuses() (heldStatuses, error) {
	lines := p.req.Changes[crm.OrderLines]
	if len(lines.Created)+len(lines.Updated)+len(lines.Deleted) == 0 {
		return nil, nil
	}
	held := heldStatuses{}
	orders := p.req.Changes[crm.Orders]
	for i, raws := range [][]Raw{orders.Created, orders.Updated} {
		for _, raw := range raws {
			id, _ := raw["id"].(string)
			status, ok := raw["status"].(string)
			if !ok || status == "" || status == crm.StatusDraft || held[id] != nil {
				continue
			}
			if cols, full := changedColumns(raw); i == 1 && !full && !slices.Contains(cols, "status") {
				continue // an update that did not change the status
			}
			stored, err := p.st.find(crm.Orders, id)
			if err != nil {
				return nil, err
			}
			if stored != nil && stored.GetString("status") != crm.StatusDraft {
				continue
			}
			change := Raw{"id": id, "status": status, "_changed": "status"}
			if u, ok := raw["updated"]; ok {
				change["updated"] = u
			}
			held[id] = change
		}
	}
	return held, nil
}

// first is raw as applied before the lines: without its status change.
func (h heldStatuses) first(t Table, raw Raw) Raw {
	if t.Name != crm.Orders || len(h) == 0 {
		return raw
	}
	id, _ := raw["id"].(string)
	if h[id] == nil {
		return raw
	}
	out := make(Raw, len(raw))
	for k, v := range raw {
		out[k] = v
	}
	delete(out, "status")
	if cols, full := changedColumns(raw); !full {
		out["_changed"] = strings.Join(slices.DeleteFunc(cols, func(c string) bool { return c == "status" }), ",")
	}
	return out
}

// applyHeld applies the held status changes, after the lines; a refused
// one is reported like any refused record.
func (p *pusher) applyHeld(ctx context.Context, held heldStatuses) error {
	t, _ := TableByName(crm.Orders)
	for _, id := range slices.Sorted(maps.Keys(held)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if slices.Contains(p.res.ExperimentalRejectedIDs[t.Name], id) {
			continue // the order itself was refused: nothing to move
		}
		if err := p.refused(t, id, held[id], p.apply(t, id, held[id], false)); err != nil {
			return err
		}
	}
	return nil
}
