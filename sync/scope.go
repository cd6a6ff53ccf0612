package sync

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/policy"
)

// The scope a device is judged against: which customers' records a rep
// reads (pull) and writes (push), from the access policy.

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

// inScope checks that r (stored) belongs to a customer the rep may write
// under (see scope); for order lines it also returns the order.
func (p *pusher) inScope(t Table, r crm.Stored) (order *row, ok bool, err error) {
	order, _, ok, err = p.scope(t, r, true)
	return order, ok, err
}

// scope places r (stored, or about to be created): its order (for lines),
// the owner of its customer, and whether the rep may write it — they own
// the customer, or owned it until a territory change less than the grace
// ago (what a rep did offline before they knew lands in the customer's
// history). The grace covers only what the rep's device can have held:
// records under the customer from before it left them and records the rep
// wrote since; one that the new owner added afterwards (or a line of such
// an order) is refused with a recordError that says so.
func (p *pusher) scope(t Table, r crm.Stored, stored bool) (order *row, owner string, ok bool, err error) {
	customerID := r.GetString("id")
	if t.Name == crm.Customers {
		owner = r.GetString("owner")
	} else {
		var customer *row
		customer, order, err = p.customerOf(t, r.GetString(t.Parent))
		if err != nil || customer == nil {
			return order, "", false, err
		}
		customerID, owner = customer.Id, customer.GetString("owner")
	}
	if owner == p.req.Rep {
		return order, owner, true, nil
	}
	left, err := p.formerly(customerID)
	if err != nil || left == 0 {
		return order, owner, false, err
	}
	if order != nil {
		if err := p.knewOf(crm.Orders, order.Id, left); err != nil {
			return order, owner, false, err
		}
	}
	if stored && t.Name != crm.Customers {
		if err := p.knewOf(t.Name, r.GetString("id"), left); err != nil {
			return order, owner, false, err
		}
	}
	return order, owner, true, nil
}

// formerly returns the change-log position at which the customer left the
// rep, when that was less than the grace ago (PushRequest.Grace); 0 when
// the rep has no grace under the customer.
func (p *pusher) formerly(customer string) (int64, error) {
	if p.req.Grace <= 0 || customer == "" {
		return 0, nil
	}
	if v, ok := p.left[customer]; ok {
		return v, nil
	}
	var seq, at sql.NullInt64
	var stamp sql.NullString
	err := p.st.row(leftQuery,
		dbx.Params{"rep": p.req.Rep, "c": customer}, &seq, &at, &stamp)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("push: territory change of %s: %w", customer, err)
	}
	left := int64(0)
	if ms := changeMillis(at.Int64, stamp.String); ms > 0 && p.req.Now.Sub(time.UnixMilli(ms)) < p.req.Grace {
		left = seq.Int64
	}
	if p.left == nil {
		p.left = map[string]int64{}
	}
	p.left[customer] = left
	return left, nil
}

// knewOf refuses a record the rep's device cannot have held: it first
// appears in the change log at or after left (the customer had left the
// rep), written by someone else. A record with no history at all is older
// than the log's retention, so from before the change.
func (p *pusher) knewOf(table, id string, left int64) error {
	var seq sql.NullInt64
	var writer sql.NullString
	err := p.st.row(firstChangeQuery,
		dbx.Params{"t": table, "id": id}, &seq, &writer)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("push: history of %s/%s: %w", table, id, err)
	case seq.Int64 < left || writtenBy(writer.String, p.req.Rep):
		return nil
	}
	return refuse("this %s was added after its customer was handed to another rep; your device cannot have held it, so it is not yours to change", singular(table))
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

type ownerEvent struct {
	Customer, OwnerFrom, OwnerTo string
	Seq                          int64
}

// knownUnder adds to deleted every record the rep may have known under
// customer before it left them at seq leftAt: the customer, and each record
// that appeared under it before leftAt (or so long ago that its history was
// pruned), and each record the device (writer) wrote under it since, in
// the grace of a territory change. Records others added later were never
// in the rep's scope and are not named. A record no longer under the
// customer whose last change here is at or before settled is left out:
// the device has had its removal already (settled 0 leaves none out).
func (s *snapshot) knownUnder(customer string, leftAt, settled int64, writer string, deleted map[string]map[string]bool) error {
	add := func(tbl, id string) {
		if deleted[tbl] == nil {
			deleted[tbl] = map[string]bool{}
		}
		deleted[tbl][id] = true
	}
	add(crm.Customers, customer)
	current := map[string]bool{}
	for _, t := range Tables {
		if t.Parent == "" {
			continue
		}
		query := "SELECT id FROM " + q(t.Name) + " WHERE " + q(t.Parent) + " = {:c}"
		if t.Name == crm.OrderLines {
			query = `SELECT l.id FROM order_lines l JOIN orders o ON o.id = l."order" WHERE o.customer = {:c}`
		}
		ids, err := s.column(query, dbx.Params{"c": customer})
		if err != nil {
			return fmt.Errorf("pull: children of %s: %w", customer, err)
		}
		for _, id := range ids {
			current[t.Name+"/"+id] = true
		}
	}
	type histRow struct {
		Tbl, RecordID string
		First, Last   int64
		Mine          bool
	}
	var hist []histRow
	if err := s.each("SELECT tbl, record_id, MIN(seq) AS first, MAX(seq) AS last, MAX(device = {:w}) AS mine FROM "+ChangesTable+" INDEXED BY _rounds_changes_customer WHERE customer = {:c} GROUP BY tbl, record_id",
		dbx.Params{"c": customer, "w": writer}, func(rows *sql.Rows) error {
			hist = append(hist, histRow{})
			h := &hist[len(hist)-1]
			return rows.Scan(&h.Tbl, &h.RecordID, &h.First, &h.Last, &h.Mine)
		}); err != nil {
		return fmt.Errorf("pull: history of %s: %w", customer, err)
	}
	for _, h := range hist {
		key := h.Tbl + "/" + h.RecordID
		known := h.First < leftAt || h.Mine && writer != ""
		if current[key] {
			delete(current, key) // logged: decided here
		} else if h.Last <= settled {
			known = false
		}
		if t, _ := TableByName(h.Tbl); known && !t.ReadOnly && h.Tbl != crm.Customers {
			add(h.Tbl, h.RecordID)
		}
	}
	for key := range current { // history pruned: there since before any live cursor
		tbl, id, _ := strings.Cut(key, "/")
		add(tbl, id)
	}
	return nil
}

// scopedFrom is the FROM and WHERE of a query over t within rep's scope;
// extra is an additional condition on the row (alias t) or its customer
// (alias c).
func scopedFrom(t Table, extra string) string {
	from := ""
	switch {
	case t.Name == crm.Customers:
		from = "customers t JOIN customers c ON c.id = t.id WHERE c.owner = {:rep}"
	case t.Name == crm.OrderLines:
		from = `order_lines t JOIN orders o ON o.id = t."order" JOIN customers c ON c.id = o.customer WHERE c.owner = {:rep}`
	case t.Name == crm.Products:
		from = "products t WHERE t.active = TRUE"
	case t.ReadOnly: // the rest of the catalogue: everything
		from = q(t.Name) + " t WHERE TRUE"
	default:
		from = q(t.Name) + " t JOIN customers c ON c.id = t." + q(t.Parent) + " WHERE c.owner = {:rep}"
	}
	if extra != "" {
		from += " AND " + extra
	}
	return " FROM " + from
}

// scopedSelect selects the wire columns of t within rep's scope.
func scopedSelect(t Table, extra string) string {
	return "SELECT " + wireColumns(t) + scopedFrom(t, extra)
}

func wireColumns(t Table) string {
	cols := make([]string, 0, len(t.Columns)+1)
	cols = append(cols, "t.id")
	for _, c := range t.Columns {
		cols = append(cols, "t."+q(c.Name))
	}
	return strings.Join(cols, ", ")
}

// Whose ids a scopedByIDs list holds.
const (
	byRecord   = "t" // the records' own
	byCustomer = "c" // the customers they are under
)

// scopedByIDs is the FROM and WHERE of a query over t within rep's scope
// for the ids in {:ids} (JSON), of the records themselves (byRecord) or of
// their customers (byCustomer). The list drives the join (CROSS JOIN keeps
// SQLite's order), so that it costs what the list holds, not the rep's
// customers: left to itself, the planner walked the rep's customers and
// their records to find a handful of ids.
func scopedByIDs(t Table, by string) string {
	ids := "json_each({:ids}) j"
	switch {
	case t.ReadOnly:
		where := "TRUE"
		if t.Name == crm.Products {
			where = "t.active = TRUE"
		}
		return " FROM " + ids + " CROSS JOIN " + q(t.Name) + " t ON t.id = j.value WHERE " + where
	case t.Name == crm.Customers:
		return " FROM " + ids + " CROSS JOIN customers t ON t.id = j.value WHERE t.owner = {:rep}"
	case t.Name == crm.OrderLines && by == byCustomer:
		return " FROM " + ids + ` CROSS JOIN customers c ON c.id = j.value CROSS JOIN orders o ON o.customer = c.id CROSS JOIN order_lines t ON t."order" = o.id WHERE c.owner = {:rep}`
	case t.Name == crm.OrderLines:
		return " FROM " + ids + ` CROSS JOIN order_lines t ON t.id = j.value CROSS JOIN orders o ON o.id = t."order" CROSS JOIN customers c ON c.id = o.customer WHERE c.owner = {:rep}`
	case by == byCustomer:
		return " FROM " + ids + " CROSS JOIN customers c ON c.id = j.value CROSS JOIN " + q(t.Name) + " t ON t." + q(t.Parent) + " = c.id WHERE c.owner = {:rep}"
	}
	return " FROM " + ids + " CROSS JOIN " + q(t.Name) + " t ON t.id = j.value CROSS JOIN customers c ON c.id = t." + q(t.Parent) + " WHERE c.owner = {:rep}"
}

// handOver tells owner, by push, of a follow-up the customer's previous
// rep promised before a territory change and pushed after it.
func (p *pusher) handOver(followUp *core.Record, owner string) error {
	customer, err := p.st.find(crm.Customers, followUp.GetString("customer"))
	if err != nil || customer == nil {
		return err
	}
	err = TellHandOver(p.tx, p.st.insert, customer.Id, customer.GetString("name"), p.req.Rep, owner,
		[]string{followUp.Id}, []string{followUp.GetString("note")})
	if err != nil {
		return fmt.Errorf("push: tell %s of follow-up %s: %w", owner, followUp.Id, err)
	}
	return nil
}

// TellHandOver queues the push that tells a rep (to) of open follow-ups
// handed to them with a customer (ids, and what they promise), once per set
// of follow-ups and rep however often the customer goes back and forth.
// insert writes the record: the push's store, or tx.Save on the other
// paths (a change of owner).
func TellHandOver(tx core.App, insert func(*core.Record) error, customer, customerName, from, to string, ids, notes []string) error {
	key := crm.HandOverKey(to, ids)
	var told bool
	if err := tx.NonconcurrentDB().NewQuery("SELECT EXISTS (SELECT 1 FROM " + crm.Notifications + " WHERE dedup_key = {:k})").
		Bind(dbx.Params{"k": key}).Row(&told); err != nil || told {
		return err
	}
	c, err := tx.FindCachedCollectionByNameOrId(crm.Notifications)
	if err != nil {
		return err
	}
	title, body := crm.HandOverNotice(customerName, notes)
	data, _ := json.Marshal(map[string]any{"customer": customer, "follow_ups": ids, "from": from})
	n := core.NewRecord(c)
	n.Load(map[string]any{
		"kind": crm.NoticeHandedOver, "audience": "rep", "user": to, "dedup_key": key,
		"title": title, "body": body, "status": "pending", "data": string(data),
	})
	return insert(n)
}
