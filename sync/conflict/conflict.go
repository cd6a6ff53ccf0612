// Package conflict holds the rules that settle a field edited both on a
// device and on the server. Pure functions: no PocketBase, no clock.
package conflict

import (
	"fmt"
	"strings"
	"time"
)

// Resolutions, as recorded in sync_conflicts.
const (
	KeepServer = "server"   // the server's value stays; the device's is logged
	TakeClient = "client"   // the device's value replaces the server's, which is logged
	Merged     = "merged"   // both texts kept
	Restored   = "restored" // an edit beat a delete: the record lives on
	Rejected   = "rejected" // the record was refused; it stays unsynced on the device
)

// Rules, as recorded in sync_conflicts.
const (
	RuleServerOwned  = "server-owned field: it never comes from a device"
	RuleNotes        = "free-text notes keep both texts"
	RuleLatestDevice = "latest edit wins: the device's edit was later"
	RuleLatestServer = "latest edit wins: the server's edit was later (or at the same time)"
	RuleEditBeatsDel = "an edit beats a delete"
)

// Field is one column the device changed.
type Field struct {
	ServerOwned bool
	Note        bool
	Client      any
	Server      any
	// ServerChanged: someone other than this device changed the column on
	// the server since the version the device edited.
	ServerChanged bool
	ServerAt      time.Time // when the server's latest such change committed
	DeviceAt      time.Time // when the device edited, already clamped
}

// Outcome says which value the field keeps.
type Outcome struct {
	Value      any
	Resolution string
	Rule       string
	Conflict   bool // whether to record it in sync_conflicts
}

// Resolve settles one field. Identical values are never a conflict, which
// is what makes retried pushes harmless.
func Resolve(f Field) Outcome {
	switch {
	case Equal(f.Client, f.Server):
		return Outcome{Value: f.Server}
	case f.ServerOwned:
		return Outcome{Value: f.Server, Resolution: KeepServer, Rule: RuleServerOwned, Conflict: true}
	case !f.ServerChanged:
		return Outcome{Value: f.Client, Resolution: TakeClient}
	case f.Note:
		return Outcome{Value: MergeNotes(str(f.Server), str(f.Client)), Resolution: Merged, Rule: RuleNotes, Conflict: true}
	case f.DeviceAt.After(f.ServerAt):
		return Outcome{Value: f.Client, Resolution: TakeClient, Rule: RuleLatestDevice, Conflict: true}
	default:
		return Outcome{Value: f.Server, Resolution: KeepServer, Rule: RuleLatestServer, Conflict: true}
	}
}

// NoteSeparator joins two texts that were both kept.
const NoteSeparator = "\n---\n"

// MergeNotes keeps both texts: one that already contains the other wins
// whole, otherwise the server's text comes first.
func MergeNotes(server, client string) string {
	switch {
	case strings.TrimSpace(client) == "" || strings.Contains(server, client):
		return server
	case strings.TrimSpace(server) == "" || strings.Contains(client, server):
		return client
	}
	return server + NoteSeparator + client
}

// ClampDeviceTime brings a device's edit time into [lastPull, now]: device
// clocks drift, and an edit cannot predate the data it was made on nor come
// from the future. A zero device time counts as lastPull.
func ClampDeviceTime(device, lastPull, now time.Time) time.Time {
	switch {
	case device.IsZero() || device.Before(lastPull):
		return lastPull
	case device.After(now):
		return now
	}
	return device
}

// Equal compares two wire values (string, float64, bool, nil; ints and
// floats of the same value are equal; "" equals nil for optional text).
func Equal(a, b any) bool {
	// the common cases first, without formatting: a push compares every
	// column it is sent, and fmt.Sprint was most of its allocations
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	}
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	fa, aNum := num(a)
	fb, bNum := num(b)
	if aNum && bNum {
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b) && fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func isEmpty(v any) bool {
	return v == nil || v == ""
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
