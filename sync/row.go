package sync

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cast"
)

// row is a stored record as a push reads it. Most records a push loads are
// only read: the customers and orders that place a record in a rep's
// scope, the records it deletes. Building a PocketBase record for each
// (a map of defaults, then a map of values) was a tenth of a push; a row
// is one slice of the values PocketBase would hold, and a PocketBase
// record is built only for a record the push writes (edit). A record the
// push wrote stays in the store as a row over that PocketBase record.
type row struct {
	Id   string
	c    *core.Collection
	cols *columnIndex
	vals []any        // by cols, when rec is nil
	rec  *core.Record // the record as the push wrote it
}

// columnIndex places a collection's columns in a row.
type columnIndex struct {
	names []string
	pos   map[string]int
}

func newColumnIndex(names []string) *columnIndex {
	ix := &columnIndex{names: names, pos: make(map[string]int, len(names))}
	for i, n := range names {
		ix.pos[n] = i
	}
	return ix
}

func written(r *core.Record) *row { return &row{Id: r.Id, c: r.Collection(), rec: r} }

func (r *row) Collection() *core.Collection { return r.c }

// GetRaw is the stored value of a column, as core.Record.GetRaw.
func (r *row) GetRaw(name string) any {
	if r.rec != nil {
		return r.rec.GetRaw(name)
	}
	if name == core.FieldNameId {
		return r.Id
	}
	if i, ok := r.cols.pos[name]; ok {
		return r.vals[i]
	}
	return nil
}

// The getters convert as core.Record's do (no synced collection has a
// field with a getter of its own).
func (r *row) GetString(name string) string { return cast.ToString(r.GetRaw(name)) }
func (r *row) GetFloat(name string) float64 { return cast.ToFloat64(r.GetRaw(name)) }
func (r *row) GetInt(name string) int       { return cast.ToInt(r.GetRaw(name)) }
func (r *row) GetBool(name string) bool     { return cast.ToBool(r.GetRaw(name)) }

// edit returns a PocketBase record holding r's values, to change and
// write: the store keeps r until the write succeeds.
func (r *row) edit() *core.Record {
	c := core.NewRecord(r.c)
	for _, f := range r.c.Fields {
		name := f.GetName()
		c.SetRaw(name, r.GetRaw(name))
	}
	c.MarkAsNotNew()
	return c
}
