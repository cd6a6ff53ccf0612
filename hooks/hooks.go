// Package hooks wires Rounds into PocketBase: record hooks that keep the
// business invariants on every write path, request hooks that shape what a
// rep may send over REST, middleware and routes. Handlers stay small; the
// rules themselves live in the crm package.
package hooks

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"rounds/push"
	"rounds/replica"
)

// Deps are the things Rounds needs from the outside world, passed down
// instead of read from globals so that tests can replace them.
type Deps struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MapTiles is the tile URL template of the managers' map
	// (ROUNDS_MAP_TILES, checked by ParseMapTiles); empty means
	// OpenStreetMap's.
	MapTiles string
	// SyncRetention is how long the change log keeps changes (and
	// tombstones); a device offline for longer gets a full re-sync.
	// Zero means 90 days.
	SyncRetention time.Duration
	// CareSecret signs customer links (at least 32 bytes); empty means
	// ROUNDS_CARE_SECRET, else a random secret kept in the data directory.
	CareSecret []byte
	// Sender delivers push notifications; nil is outbox-only mode.
	Sender push.Sender
	// DefaultZone is the time zone of people who have none; nil is UTC.
	DefaultZone *time.Location
	// PublicURL, when set, is the address customers' links point at (the
	// dashboard's Application URL otherwise): ROUNDS_PUBLIC_URL.
	PublicURL string
	// TerritoryGrace is how long after a territory change the customer's
	// previous owner may still push work done under it; zero means 7 days,
	// negative means none.
	TerritoryGrace time.Duration
	// Replica, when set, is where the database is streamed as it changes
	// (ROUNDS_REPLICA_URL); nil is off.
	Replica *replica.Config
	// PushQueue is how many sync pushes may wait for their turn (served in
	// arrival order); one more is answered 429 with Retry-After. Zero means
	// 250, negative means no queue (database/sql's order).
	PushQueue int
	// PushShare is how many places in the push queue one rep may hold
	// (waiting or applying); past it that rep alone is answered 429 with
	// Retry-After. Zero means 2, negative means no limit.
	PushShare int
}

func (d Deps) withDefaults() Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DefaultZone == nil {
		d.DefaultZone = time.UTC
	}
	switch {
	case d.TerritoryGrace == 0:
		d.TerritoryGrace = 7 * 24 * time.Hour
	case d.TerritoryGrace < 0:
		d.TerritoryGrace = 0
	}
	switch {
	case d.PushQueue == 0:
		d.PushQueue = 250
	case d.PushQueue < 0:
		d.PushQueue = 0
	}
	switch {
	case d.PushShare == 0:
		d.PushShare = 2
	case d.PushShare < 0:
		d.PushShare = 0
	}
	if d.SyncRetention <= 0 {
		d.SyncRetention = 90 * 24 * time.Hour
	}
	return d
}

// Register binds every Rounds hook, middleware and route to app. The same
// call wires production and the test app.
func Register(app core.App, deps Deps) {
	deps = deps.withDefaults()
	redactLinkTokens(app)
	registerTokenCache(app)
	registerInvariants(app, deps)
	registerAccess(app)
	registerReadPool(app)
	registerPagePool(app)
	pushes := newPushQueue(deps.PushQueue, deps.PushShare)
	registerCheckpoints(app, pushes, deps.Replica == nil)
	registerSync(app, deps, pushes)
	registerTerritory(app, deps)
	registerFunnel(app, deps)
	registerReports(app, deps)
	registerCoverage(app, deps)
	registerQuotas(app)
	registerTiers(app, deps)
	registerManager(app, deps)
	registerApp(app)
	registerReplication(app, deps)
	if deps.PublicURL != "" {
		app.OnServe().BindFunc(func(se *core.ServeEvent) error {
			se.App.Settings().Meta.AppURL = deps.PublicURL
			return se.Next()
		})
	}
	registerDevices(app)
	signers := &signerFor{}
	registerCare(app, deps, signers)
	registerCareRateLimit(app, deps)
	registerSignInLimit(app, deps)
	registerReminders(app, deps, signers)
}
