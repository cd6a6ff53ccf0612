// Package sync is the offline sync engine: change capture, WatermelonDB
// pull and push, and the schema phones build their database from.
//
// Import it under another name (rsync): it shadows the standard library.
package sync

import (
	"slices"
	"strings"

	"rounds/crm"
	"rounds/policy"
)

// SchemaVersion is the version of the synced schema. Bump it, and describe
// the step in Migrations, whenever a synced table or column is added.
const SchemaVersion = 5

// RemovedColumn is the tombstone column of every table a device writes
// (schema version 2). The server never stores it: a pull sends it null
// on live records and, on a record the office deleted or took out of the
// rep's scope, first a tombstone (the id and removed_at only), which
// WatermelonDB merges like any update, keeping the rep's unsynced edits;
// the deletion follows one sync later. Apps hide records whose removed_at
// is set.
const RemovedColumn = "removed_at"

// Tombstones reports whether t carries RemovedColumn (the tables devices
// write; the catalogue is read-only and deletes at once).
func (t Table) Tombstones() bool { return !t.ReadOnly }

// Kind says how a column is stored in PocketBase and carried on the wire.
type Kind int

const (
	Text     Kind = iota // string
	Relation             // string id, or null when empty
	Number               // number
	Bool                 // boolean
	Date                 // epoch milliseconds, or null when empty
)

// WireType is the WatermelonDB column type of a kind.
func (k Kind) WireType() string {
	switch k {
	case Number, Date:
		return "number"
	case Bool:
		return "boolean"
	default:
		return "string"
	}
}

// Optional reports whether the wire value may be null.
func (k Kind) Optional() bool { return k == Relation || k == Date }

// Column is a synced column.
type Column struct {
	Name    string
	Kind    Kind
	Indexed bool
	// Since is the schema version that added the column to an older
	// table (0: the table's own).
	Since int
	// Required columns must be sent when a device creates a record (the
	// server refuses the record without them, naming the column).
	Required bool
	// Default is what the server sets when a new record leaves the column
	// empty ("" when nothing).
	Default string
}

// ServerOwned reports whether the server sets column c of t: computed,
// assigned, or stamped with the signed-in rep. A device's value is never
// taken (a stale copy is kept out; naming another rep is refused).
func (t Table) ServerOwned(c string) bool {
	switch policy.For(t.Name).DeviceField(c, true) {
	case policy.FieldServer, policy.FieldStamped:
		return true
	}
	return false
}

// Table is a synced table. Parent names the relation that places a record
// in a customer's history ("" for customers themselves and for products).
type Table struct {
	Name    string
	Parent  string
	Columns []Column
	// ReadOnly tables are never written by devices (the catalogue).
	ReadOnly bool
	// Since is the schema version that added the table (0: the first).
	Since int
}

// In reports whether a device on schema version v has table t (v 0: the
// current version).
func (t Table) In(v int) bool { return v == 0 || t.Since <= v }

// Column returns the column called name.
func (t Table) Column(name string) (Column, bool) {
	i := slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == name })
	if i < 0 {
		return Column{}, false
	}
	return t.Columns[i], true
}

// DataColumns are the columns whose changes are tracked (all but created
// and updated, which every save touches).
func (t Table) DataColumns() []Column {
	out := make([]Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.stamp() {
			out = append(out, c)
		}
	}
	return out
}

// stamp reports whether c is one of the times every save sets.
func (c Column) stamp() bool { return c.Name == "created" || c.Name == "updated" }

func text(name string) Column     { return Column{Name: name, Kind: Text} }
func num(name string) Column      { return Column{Name: name, Kind: Number} }
func date(name string) Column     { return Column{Name: name, Kind: Date} }
func boolean(name string) Column  { return Column{Name: name, Kind: Bool} }
func relation(name string) Column { return Column{Name: name, Kind: Relation, Indexed: true} }

// required marks c as one a device must send on create.
func required(c Column) Column { c.Required = true; return c }

// withDefault is c with what the server sets when a new record leaves it empty.
func withDefault(c Column, v string) Column { c.Default = v; return c }

var stamps = []Column{date("created"), date("updated")}

// Tables are the synced tables, parents before children: the order in which
// a push applies creates and updates (deletes go in reverse).
var Tables = []Table{
	{Name: crm.Customers, Columns: append([]Column{
		required(text("name")), relation("owner"), text("phone"), text("email"), text("address"),
		num("lat"), num("lng"), text("timezone"), text("tier"), text("notes"),
		{Name: "visit_every_days", Kind: Number, Since: 4}, {Name: "last_visit_at", Kind: Date, Since: 4},
		{Name: "next_visit_due", Kind: Date, Since: 4, Indexed: true},
	}, stamps...)},
	{Name: crm.Contacts, Parent: "customer", Columns: append([]Column{
		required(relation("customer")), required(text("name")), text("title"), text("phone"), text("email"),
		{Name: "birthday", Kind: Text, Indexed: true}, num("birth_year"), boolean("care_opt_in"),
		text("preferred_channel"), text("timezone"),
		{Name: "language", Kind: Text, Since: 5}, {Name: "birthday_calendar", Kind: Text, Since: 5},
	}, stamps...)},
	{Name: crm.Visits, Parent: "customer", Columns: append([]Column{
		required(relation("customer")), relation("contact"), relation("rep"),
		date("planned_at"), date("checked_in_at"), date("checked_out_at"),
		num("check_in_lat"), num("check_in_lng"), text("purpose"), text("outcome"), text("notes"), text("geo_status"),
	}, stamps...)},
	{Name: crm.FollowUps, Parent: "customer", Columns: append([]Column{
		required(relation("customer")), relation("contact"), relation("visit"), relation("assignee"),
		required(date("due_at")), text("note"), withDefault(text("status"), crm.FollowUpOpen),
	}, stamps...)},
	{Name: crm.Opportunities, Parent: "customer", Since: 3, Columns: append([]Column{
		required(relation("customer")), relation("owner"), required(text("title")), num("amount"), required(text("currency")), required(relation("stage")),
		date("expected_close"), num("probability"), num("weighted_amount"), date("stage_entered_at"), date("closed_at"),
		text("lost_reason"), text("notes"),
	}, stamps...)},
	{Name: crm.Orders, Parent: "customer", Columns: append([]Column{
		required(relation("customer")), relation("rep"), relation("visit"), withDefault(text("status"), crm.StatusDraft), required(text("currency")),
		num("total"), text("notes"), date("submitted_at"), {Name: "opportunity", Kind: Relation, Indexed: true, Since: 3},
	}, stamps...)},
	{Name: crm.OrderLines, Parent: "order", Columns: append([]Column{
		required(relation("order")), required(relation("product")), required(num("quantity")), num("discount_pct"),
		num("unit_price"), num("line_total"),
	}, stamps...)},
	{Name: crm.Products, ReadOnly: true, Columns: append([]Column{
		{Name: "sku", Kind: Text, Indexed: true}, text("name"), num("unit_price"), text("currency"), boolean("active"),
	}, stamps...)},
	{Name: crm.Stages, ReadOnly: true, Since: 3, Columns: append([]Column{
		text("name"), num("position"), num("win_rate"), num("max_days"), text("outcome"),
	}, stamps...)},
}

// catalogueSQL lists the read-only tables for an SQL IN: ('products', ...).
var catalogueSQL = func() string {
	var names []string
	for _, t := range Tables {
		if t.ReadOnly {
			names = append(names, "'"+t.Name+"'")
		}
	}
	return "(" + strings.Join(names, ", ") + ")"
}()

// TableByName returns the synced table called name.
func TableByName(name string) (Table, bool) {
	i := slices.IndexFunc(Tables, func(t Table) bool { return t.Name == name })
	if i < 0 {
		return Table{}, false
	}
	return Tables[i], true
}

// NoteColumns hold free text where a conflict keeps both texts.
var NoteColumns = map[string]bool{
	crm.Customers + ".notes":     true,
	crm.Visits + ".notes":        true,
	crm.Visits + ".outcome":      true,
	crm.FollowUps + ".note":      true,
	crm.Orders + ".notes":        true,
	crm.Opportunities + ".notes": true,
}

// AppSchema is the synced schema in WatermelonDB's appSchema form, with
// the steps from each earlier version in schemaMigrations form.
type AppSchema struct {
	Version    int               `json:"version"`
	Tables     []SchemaTable     `json:"tables"`
	Migrations []SchemaMigration `json:"migrations"`
}

// SchemaMigration is one step of WatermelonDB's schemaMigrations: the
// steps are addColumns() values ({type: "add_columns", table, columns}).
type SchemaMigration struct {
	ToVersion int          `json:"toVersion"`
	Steps     []SchemaStep `json:"steps"`
}

// SchemaStep is an add_columns step (Table, Columns) or a create_table
// step (Schema).
type SchemaStep struct {
	Type    string         `json:"type"`
	Table   string         `json:"table,omitempty"`
	Columns []SchemaColumn `json:"columns,omitempty"`
	Schema  *SchemaTable   `json:"schema,omitempty"`
}

// SchemaTable is one table of AppSchema.
type SchemaTable struct {
	Name    string         `json:"name"`
	Columns []SchemaColumn `json:"columns"`
}

// SchemaColumn is one column of a SchemaTable. Name, Type, IsOptional and
// IsIndexed are WatermelonDB's column schema; IsRequired (the server
// refuses a new record without it) and IsServerOwned (the server sets it;
// a device's value is never taken) are Rounds' and are left out of
// WatermelonDB's tableSchema by a client that copies only its four. A
// required column keeps WatermelonDB's isOptional: making it not optional
// would change what the phone stores for an empty value, and WatermelonDB's
// migrations cannot change a column.
type SchemaColumn struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	IsOptional    bool   `json:"isOptional"`
	IsIndexed     bool   `json:"isIndexed"`
	IsRequired    bool   `json:"isRequired"`
	IsServerOwned bool   `json:"isServerOwned"`
}

// Schema returns the synced schema for phones.
func Schema() AppSchema {
	s := AppSchema{Version: SchemaVersion}
	for _, t := range Tables {
		s.Tables = append(s.Tables, schemaTable(t))
	}
	// version 2: removed_at on the tables of version 1
	v2 := SchemaMigration{ToVersion: 2}
	for _, t := range Tables {
		if t.Tombstones() && t.Since <= 1 {
			v2.Steps = append(v2.Steps, SchemaStep{Type: "add_columns", Table: t.Name, Columns: []SchemaColumn{removedColumn}})
		}
	}
	// version 3: the funnel (opportunities, stages, orders.opportunity);
	// version 4: the visit cycle on customers; version 5: a contact's
	// language and birthday calendar
	s.Migrations = []SchemaMigration{v2}
	for v := 3; v <= SchemaVersion; v++ {
		step := SchemaMigration{ToVersion: v}
		for _, t := range Tables {
			if t.Since == v {
				st := schemaTable(t)
				step.Steps = append(step.Steps, SchemaStep{Type: "create_table", Schema: &st})
				continue
			}
			var cols []SchemaColumn
			for _, c := range t.Columns {
				if c.Since == v {
					cols = append(cols, schemaColumn(t, c))
				}
			}
			if len(cols) > 0 {
				step.Steps = append(step.Steps, SchemaStep{Type: "add_columns", Table: t.Name, Columns: cols})
			}
		}
		s.Migrations = append(s.Migrations, step)
	}
	return s
}

func schemaColumn(t Table, c Column) SchemaColumn {
	return SchemaColumn{Name: c.Name, Type: c.Kind.WireType(), IsOptional: c.Kind.Optional(), IsIndexed: c.Indexed,
		IsRequired: c.Required, IsServerOwned: t.ReadOnly || c.stamp() || t.ServerOwned(c.Name)}
}

func schemaTable(t Table) SchemaTable {
	st := SchemaTable{Name: t.Name}
	for _, c := range t.Columns {
		st.Columns = append(st.Columns, schemaColumn(t, c))
	}
	if t.Tombstones() {
		st.Columns = append(st.Columns, removedColumn)
	}
	return st
}

var removedColumn = SchemaColumn{Name: RemovedColumn, Type: "number", IsOptional: true, IsIndexed: true, IsServerOwned: true}
