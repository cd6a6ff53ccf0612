// Package crm holds the business rules of Rounds as pure functions: prices,
// order status moves, check-in verification, birthdays and record ids.
//
// It imports nothing from PocketBase, so the rules are tested with plain
// tables and shared by every write path (REST, dashboard, sync, seed).
package crm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Collection names, as fixed by the contract.
const (
	Users          = "users"
	Customers      = "customers"
	Contacts       = "contacts"
	Visits         = "visits"
	FollowUps      = "follow_ups"
	Products       = "products"
	Orders         = "orders"
	OrderLines     = "order_lines"
	Devices        = "devices"
	ContactDevices = "contact_devices"
	CareCampaigns  = "care_campaigns"
	Notifications  = "notifications"
	SyncConflicts  = "sync_conflicts"
	SyncDevices    = "sync_devices"
	CareInvites    = "care_invites"
	// StuckDevices is a view of the phones whose pushes keep being refused.
	StuckDevices = "stuck_devices"
	// Quotas are reps' targets: closed revenue per period and currency.
	Quotas = "quotas"
	// CareStatus is each contact's care at a glance (a view, admins only).
	CareStatus = "care_status"
)

// Collections lists every collection Rounds defines or extends.
var Collections = []string{
	Users, Customers, Contacts, Visits, FollowUps, Products, Orders, OrderLines,
	Devices, ContactDevices, CareCampaigns, Notifications, SyncConflicts, SyncDevices, CareInvites,
	Stages, Opportunities, OpportunityHistory, CompanySettings, CustomerEvents,
	VisitsDue, CustomerTimeline, RepActivity, StuckDevices, Quotas, CareTemplates, CareStatus,
}

// Roles of a user.
const (
	RoleRep     = "rep"
	RoleManager = "manager"
)

// Tiers of a customer; DefaultTier is given to customers created without one.
var Tiers = []string{"A", "B", "C"}

const DefaultTier = "C"

// ClientIDPattern is what a client-made record id must look like
// (WatermelonDB makes 16 alphanumerics, many apps use UUIDs).
const ClientIDPattern = `^[A-Za-z0-9_-]+$`

// Bounds of a client-made record id.
const (
	ClientIDMin = 15
	ClientIDMax = 36
)

var clientIDRe = regexp.MustCompile(ClientIDPattern)

// ValidID reports whether id may be used as the id of a synced record.
func ValidID(id string) bool {
	return len(id) >= ClientIDMin && len(id) <= ClientIDMax && clientIDRe.MatchString(id)
}

// ---------------------------------------------------------------------------
// Money

// Cents converts an amount to integer minor units, rounding half away from zero.
func Cents(amount float64) int64 {
	return int64(math.Round(amount * 100))
}

// Amount converts minor units back to an amount.
func Amount(cents int64) float64 {
	return float64(cents) / 100
}

// LineTotal prices an order line: quantity times the unit price, less the
// discount in percent, rounded to the cent. It works in integer cents so that
// a total is exactly the sum of its lines.
func LineTotal(unitPrice float64, quantity int64, discountPct float64) float64 {
	return Amount(LineTotalCents(Cents(unitPrice), quantity, discountPct))
}

// LineTotalCents is LineTotal in minor units.
func LineTotalCents(unitCents, quantity int64, discountPct float64) int64 {
	gross := float64(unitCents * quantity)
	return int64(math.Round(gross * (100 - discountPct) / 100))
}

// ---------------------------------------------------------------------------
// Follow-ups

// Follow-up statuses.
const (
	FollowUpOpen      = "open"
	FollowUpDone      = "done"
	FollowUpCancelled = "cancelled"
)

// NoticeHandedOver is the kind of the push that tells a rep follow-ups
// came to them with a customer (a territory change).
const NoticeHandedOver = "follow_ups_handed_over"

// HandOverKey is that push's dedup key: one notice per set of follow-ups
// handed to a rep, however often the customer goes back and forth.
func HandOverKey(to string, followUps []string) string {
	ids := slices.Clone(followUps)
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	return "handed_over:" + to + ":" + hex.EncodeToString(sum[:12])
}

// HandOverNotice is that push's text: the customer and what was promised.
func HandOverNotice(customerName string, notes []string) (title, body string) {
	title = "Open follow-ups handed to you: " + customerName
	if len(notes) == 1 {
		title = "An open follow-up handed to you: " + customerName
	}
	var b strings.Builder
	for i, n := range notes {
		if i == 5 {
			fmt.Fprintf(&b, "\n… and %d more", len(notes)-5)
			break
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("• " + strings.TrimSpace(n))
	}
	return title, b.String()
}

// ---------------------------------------------------------------------------
// Order status

// Order statuses.
const (
	StatusDraft     = "draft"
	StatusSubmitted = "submitted"
	StatusConfirmed = "confirmed"
	StatusFulfilled = "fulfilled"
	StatusCancelled = "cancelled"
)

// OrderStatuses in their natural order.
var OrderStatuses = []string{StatusDraft, StatusSubmitted, StatusConfirmed, StatusFulfilled, StatusCancelled}

var nextStatus = map[string]string{
	StatusDraft:     StatusSubmitted,
	StatusSubmitted: StatusConfirmed,
	StatusConfirmed: StatusFulfilled,
}

// CheckStatusMove returns nil when an order may move from one status to the
// other: one step along draft -> submitted -> confirmed -> fulfilled, or to
// cancelled from any status but fulfilled. Staying put is always allowed.
func CheckStatusMove(from, to string) error {
	if from == to {
		return nil
	}
	if nextStatus[from] == to {
		return nil
	}
	if to == StatusCancelled && from != StatusFulfilled {
		return nil
	}
	return fmt.Errorf("an order cannot move from %q to %q (allowed: draft -> submitted -> confirmed -> fulfilled, or to cancelled before fulfilment)", from, to)
}

// ---------------------------------------------------------------------------
// Check-in verification

// Geo statuses of a visit.
const (
	GeoVerified = "verified"
	GeoFar      = "far"
	GeoUnknown  = "unknown"
)

// VerifiedRadiusMeters is how close a check-in must be to the customer.
const VerifiedRadiusMeters = 300

// Point is a WGS84 position; the zero Point means "no position".
type Point struct{ Lat, Lng float64 }

// Known reports whether p carries a position.
func (p Point) Known() bool { return p.Lat != 0 || p.Lng != 0 }

// DistanceMeters is the great-circle (haversine) distance between a and b.
func DistanceMeters(a, b Point) float64 {
	const earthRadius = 6371008.8 // mean radius, metres
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat := rad(b.Lat - a.Lat)
	dLng := rad(b.Lng - a.Lng)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// GeoStatus classifies a check-in against the customer's position.
func GeoStatus(checkIn, customer Point) string {
	if !checkIn.Known() || !customer.Known() {
		return GeoUnknown
	}
	if DistanceMeters(checkIn, customer) <= VerifiedRadiusMeters {
		return GeoVerified
	}
	return GeoFar
}

// ---------------------------------------------------------------------------
// Birthdays

// BirthdayPattern is the shape of a birthday (MM-DD).
const BirthdayPattern = `^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`

var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// CheckBirthday validates a MM-DD day of the year; 02-29 is a valid birthday.
// The empty string means "unknown" and is valid.
func CheckBirthday(mmdd string) error {
	if mmdd == "" {
		return nil
	}
	if len(mmdd) != 5 || mmdd[2] != '-' {
		return fmt.Errorf("%q is not a day of the year in the form MM-DD", mmdd)
	}
	m, err1 := strconv.Atoi(mmdd[:2])
	d, err2 := strconv.Atoi(mmdd[3:])
	if err1 != nil || err2 != nil || m < 1 || m > 12 || d < 1 {
		return fmt.Errorf("%q is not a day of the year in the form MM-DD", mmdd)
	}
	if d > daysIn[m] {
		return fmt.Errorf("%q is not a day of the year: month %02d has %d days", mmdd, m, daysIn[m])
	}
	return nil
}

// ---------------------------------------------------------------------------
// Time zones

// CheckTimezone validates an IANA time zone name such as "Europe/Berlin".
// The empty string means "inherit" and is valid.
func CheckTimezone(name string) error {
	if name == "" {
		return nil
	}
	if name == "Local" || len(name) > 64 {
		return fmt.Errorf("%q is not an IANA time zone name", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("%q is not an IANA time zone name (for example Europe/Berlin)", name)
	}
	return nil
}
