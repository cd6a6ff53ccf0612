package sync

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/sync/conflict"
)

// Conflicts: what others changed since the device's version, and the
// record of every conflict and refusal in sync_conflicts.

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
// since the base, and whether each it no longer holds was ever deleted.
func (p *pusher) history(table string) error {
	if p.edits == nil {
		p.edits, p.deleted = map[string]map[string][]edit{}, map[string]map[string]bool{}
	}
	if _, ok := p.edits[table]; ok {
		return nil
	}
	ids := p.req.Changes[table].ids()
	// only a record the table does not hold may have been deleted (the
	// push asks deletedOnServer only before it creates one)
	var gone []string
	for _, id := range ids {
		r, err := p.st.find(table, id)
		if err != nil {
			return err
		}
		if r == nil {
			gone = append(gone, id)
		}
	}
	edits, deleted := map[string][]edit{}, map[string]bool{}
	st, err := p.st.stmt("history", func() string { return historyQuery })
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(p.st.ctx, table, jsonIDs(ids), p.base, p.writer, table, jsonIDs(gone))
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
