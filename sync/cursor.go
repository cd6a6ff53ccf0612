package sync

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
)

// The cursor: what a device has pulled, packed into WatermelonDB's
// lastPulledAt, and what the push reads from it.

// Cursors. A pull answers with a timestamp that carries two change-log
// positions: the one it read up to (top) and the one the device held
// before it (base). WatermelonDB pushes with the new timestamp; the merge
// needs base, the version the device's offline edits were made on. Packing
// both into the number keeps the server free of per-pull state. The gap is
// stored as its complement, so that cursors never decrease (WatermelonDB
// checks): for the same top, a smaller gap gives a larger cursor.
const cursorScale = 1_000_000

// EncodeCursor packs top and base; a gap of a million changes or more is
// clipped (the base then errs late, never early).
func EncodeCursor(top, base int64) int64 {
	gap := min(max(top-base, 0), cursorScale-1)
	return top*cursorScale + (cursorScale - 1 - gap)
}

// DecodeCursor unpacks a timestamp into top and base.
func DecodeCursor(c int64) (top, base int64) {
	top = c / cursorScale
	return top, top - (cursorScale - 1 - c%cursorScale)
}

// resolveBase finds the version the device's edits are based on: the
// base packed into the timestamp of the pull before this push.
func (p *pusher) resolveBase() error {
	_, p.base = DecodeCursor(p.req.LastPulledAt)
	var at sql.NullInt64
	var stamp sql.NullString
	if err := p.st.row(baseTimeQuery,
		dbx.Params{"s": p.base}, &at, &stamp); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("push: time of base cursor: %w", err)
	}
	if ms := changeMillis(at.Int64, stamp.String); ms > 0 {
		p.baseAt = time.UnixMilli(ms).UTC()
	}
	return nil
}

// unpulledQuery finds a change in the rep's scope, made by someone else
// after the position the device pulled up to: in the rep's feed, a customer
// that left or reached the rep, or the catalogue. Each part searches its
// own index from that position, so a push's question costs what is new, not
// every change since (all reps').
var unpulledQuery = `SELECT
	EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner WHERE owner = {:rep} AND owner != '' AND seq > {:top} AND device != {:w})
	OR EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner_from WHERE owner_from = {:rep} AND owner_from != '' AND seq > {:top} AND device != {:w})
	OR EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner_to WHERE owner_to = {:rep} AND owner_to != '' AND seq > {:top} AND device != {:w})
	OR EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_customer WHERE customer = '' AND tbl IN ` + catalogueSQL + ` AND seq > {:top} AND device != {:w})`

// removalsQuery finds a removal in the window of the device's last pull
// (base, top]: a deletion in the rep's feed, or a customer that left the
// rep. That pull sent them as tombstones; the next sends the deletions.
const removalsQuery = `SELECT
	EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner_from WHERE owner_from = {:rep} AND owner_from != '' AND seq > {:base} AND seq <= {:top})
	OR EXISTS (SELECT 1 FROM ` + ChangesTable + ` INDEXED BY _rounds_changes_owner WHERE owner = {:rep} AND owner != '' AND seq > {:base} AND seq <= {:top} AND op = 'd')`

// unpulled reports whether the server holds changes in the rep's scope
// that the device has not pulled (committed after its last pull), or
// removals its last pull sent as tombstones, whose deletion comes next.
func (p *pusher) unpulled() (bool, error) {
	top, base := DecodeCursor(p.req.LastPulledAt)
	var found bool
	err := p.st.row(unpulledQuery, dbx.Params{"top": top, "w": p.writer, "rep": p.req.Rep}, &found)
	if err == nil && !found && base < top {
		err = p.st.row(removalsQuery, dbx.Params{"top": top, "base": base, "rep": p.req.Rep}, &found)
	}
	if err != nil {
		return false, fmt.Errorf("push: changes not pulled: %w", err)
	}
	return found, nil
}
