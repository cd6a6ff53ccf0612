package sync

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"

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

// scopedSelect selects the wire columns of t within rep's scope; extra is
// an additional condition on the row (alias t) or its customer (alias c).
func scopedSelect(t Table, extra string) string {
	cols := make([]string, 0, len(t.Columns)+1)
	cols = append(cols, "t.id")
	for _, c := range t.Columns {
		cols = append(cols, "t."+q(c.Name))
	}
	from := ""
	switch {
	case t.Name == crm.Customers:
		from = "customers t JOIN customers c ON c.id = t.id WHERE c.owner = {:rep}"
	case t.Name == crm.OrderLines:
		from = `order_lines t JOIN orders o ON o.id = t."order" JOIN customers c ON c.id = o.customer WHERE c.owner = {:rep}`
	case t.Name == crm.Products:
		from = "products t WHERE t.active = TRUE"
	default:
		from = q(t.Name) + " t JOIN customers c ON c.id = t." + q(t.Parent) + " WHERE c.owner = {:rep}"
	}
	if extra != "" {
		from += " AND " + extra
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + from
}

type ownerEvent struct {
	Customer  string `db:"record_id"`
	OwnerFrom string `db:"owner_from"`
	OwnerTo   string `db:"owner_to"`
	Seq       int64  `db:"seq"`
}

// knownUnder adds to deleted every record the rep may have known under
// customer before it left them at seq leftAt: the customer, and each record
// that appeared under it before leftAt (or so long ago that its history was
// pruned). Records that arrived later were never in the rep's scope and are
// not named.
func (s *snapshot) knownUnder(customer string, leftAt int64, deleted map[string]map[string]bool) error {
	add := func(tbl, id string) {
		if deleted[tbl] == nil {
			deleted[tbl] = map[string]bool{}
		}
		deleted[tbl][id] = true
	}
	add(crm.Customers, customer)
	var hist []struct {
		Tbl      string `db:"tbl"`
		RecordID string `db:"record_id"`
		First    int64  `db:"first"`
	}
	if err := s.query("SELECT tbl, record_id, MIN(seq) AS first FROM "+ChangesTable+" INDEXED BY _rounds_changes_customer WHERE customer = {:c} GROUP BY tbl, record_id",
		dbx.Params{"c": customer}).All(&hist); err != nil {
		return fmt.Errorf("pull: history of %s: %w", customer, err)
	}
	logged := map[string]bool{}
	for _, h := range hist {
		logged[h.Tbl+"/"+h.RecordID] = true
		if h.First < leftAt && h.Tbl != crm.Products {
			add(h.Tbl, h.RecordID)
		}
	}
	for _, t := range Tables {
		if t.Parent == "" {
			continue
		}
		query := "SELECT id FROM " + q(t.Name) + " WHERE " + q(t.Parent) + " = {:c}"
		if t.Name == crm.OrderLines {
			query = `SELECT l.id FROM order_lines l JOIN orders o ON o.id = l."order" WHERE o.customer = {:c}`
		}
		var ids []string
		if err := s.query(query, dbx.Params{"c": customer}).Column(&ids); err != nil {
			return fmt.Errorf("pull: children of %s: %w", customer, err)
		}
		for _, id := range ids {
			if !logged[t.Name+"/"+id] { // history pruned: it has been there since before any live cursor
				add(t.Name, id)
			}
		}
	}
	return nil
}
