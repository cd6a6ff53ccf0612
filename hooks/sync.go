package hooks

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"time"
	"unicode"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
	"rounds/pb_migrations"
	"rounds/policy"
	rsync "rounds/sync"
)

// Limits of one push; a larger one gets a 413 that names the limit.
const (
	MaxPushBytes   = 16 << 20
	MaxPushRecords = 20000
)

// registerSync serves /api/sync/{schema,pull,push} and keeps the change
// capture triggers in place when a synced collection's table is rebuilt.
func registerSync(app core.App, deps Deps, queue *pushQueue) {
	devices := newDeviceLog(app)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		devices.start()
		// the push's statements, prepared once instead of in every push
		if err := rsync.Warm(context.Background(), se.App); err != nil {
			se.App.Logger().Warn("sync: pushes will prepare their own statements", "error", err)
		}
		g := se.Router.Group("/api/sync")
		g.GET("/schema", func(e *core.RequestEvent) error {
			return e.JSON(http.StatusOK, rsync.Schema())
		})
		// a pull is compressed when the phone accepts gzip (a first pull is a
		// seventh of its size at the fastest level; BENCHMARKS.md)
		g.GET("/pull", func(e *core.RequestEvent) error { return handlePull(e, deps, devices) }).
			Bind(apis.RequireAuth(crm.Users), apis.GzipWithConfig(apis.GzipConfig{Level: gzip.BestSpeed}))
		g.POST("/push", func(e *core.RequestEvent) error { return handlePush(e, deps, devices, queue) }).
			Bind(apis.RequireAuth(crm.Users), apis.BodyLimit(0)) // the handler enforces MaxPushBytes, naming it
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		devices.stop()
		return e.Next()
	})

	// Every night, changes older than the retention leave the change log.
	app.Cron().MustAdd("sync_prune", "30 3 * * *", func() {
		removed, err := rsync.Prune(app, deps.Now().Add(-deps.SyncRetention))
		if err != nil {
			app.Logger().Error("sync prune failed", "error", err)
			return
		}
		app.Logger().Info("sync change log pruned", "rows", removed)
	})

	reinstall := func(e *core.CollectionEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if _, ok := rsync.TableByName(e.Collection.Name); ok {
			if err := rsync.InstallTriggers(e.App.DB(), e.Collection.Name); err != nil {
				return err
			}
		}
		if policy.ScopeTouches(e.Collection.Name) {
			return pb_migrations.InstallScope(e.App.DB())
		}
		return nil
	}
	app.OnCollectionCreateExecute().BindFunc(reinstall)
	app.OnCollectionUpdateExecute().BindFunc(reinstall)
}

// deviceID reads X-Device-Id: up to 200 printable characters, or "".
func deviceID(e *core.RequestEvent) (string, error) {
	id := e.Request.Header.Get("X-Device-Id")
	if len(id) > 200 {
		return "", router.NewBadRequestError("X-Device-Id is longer than 200 characters.", nil)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return "", router.NewBadRequestError("X-Device-Id must be printable text.", nil)
		}
	}
	return id, nil
}

// repsOnly answers 403 to a signed-in user who is not a rep: sync carries
// a rep's own territory, and nothing else.
func repsOnly(e *core.RequestEvent) error {
	if e.Auth != nil && !policy.Syncs(policy.Role(e.Auth.GetString("role"))) {
		return router.NewForbiddenError("Sync is for reps: it carries a rep's own customers. A manager sees the team on the managers' page (/manager/).", nil)
	}
	return nil
}

func handlePull(e *core.RequestEvent, deps Deps, devices *deviceLog) error {
	if err := repsOnly(e); err != nil {
		return err
	}
	device, err := deviceID(e)
	if err != nil {
		return err
	}
	query := e.Request.URL.Query()
	cursor, version, migration, err := rsync.ParsePullQuery(query.Get("last_pulled_at"), query.Get("schema_version"), query.Get("migration"))
	if err != nil {
		return router.NewBadRequestError(err.Error(), nil)
	}
	var unfinished bool
	switch v := query.Get("unfinished"); v {
	case "", "false", "0":
	case "true", "1":
		unfinished = true
	default:
		return router.NewBadRequestError(fmt.Sprintf("Query parameter unfinished must be true or false, got %q", clipQuery(v)), nil)
	}
	now := deps.Now()
	e.Response.Header().Set("Content-Type", "application/json")
	e.Response.WriteHeader(http.StatusOK)
	err = rsync.Pull(e.Request.Context(), e.App, rsync.PullRequest{
		Rep: e.Auth.Id, LastPulledAt: cursor, Migration: migration, SchemaVersion: version,
		Device: rsync.WriterID(e.Auth.Id, device), Unfinished: unfinished, Now: now,
	}, e.Response)
	if err != nil {
		// the status line is gone; the client sees a truncated body and retries
		e.App.Logger().Error("sync pull failed", "user", e.Auth.Id, "error", err)
		return nil
	}
	devices.note(e.Auth.Id, device, e.Request.UserAgent(), now, -1)
	return nil
}

func handlePush(e *core.RequestEvent, deps Deps, devices *deviceLog, queue *pushQueue) error {
	device, err := deviceID(e)
	if err != nil {
		return err
	}
	if err := repsOnly(e); err != nil {
		return err
	}
	raw := e.Request.URL.Query().Get("last_pulled_at")
	lastPulledAt, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case raw == "" || raw == "null":
		return router.NewBadRequestError("Query parameter last_pulled_at is required on a push: the timestamp the pull before it answered (a client that never pulled pulls first).", nil)
	case err != nil || lastPulledAt < 0:
		return router.NewBadRequestError(fmt.Sprintf("Query parameter last_pulled_at must be the timestamp the pull before this push answered (a whole number), got %q", clipQuery(raw)), nil)
	}
	if e.Request.ContentLength > MaxPushBytes {
		return pushTooLarge(e)
	}
	body, err := io.ReadAll(io.LimitReader(e.Request.Body, MaxPushBytes+1))
	if err != nil {
		return router.NewBadRequestError("Could not read the push body.", err)
	}
	if len(body) > MaxPushBytes {
		return pushTooLarge(e)
	}
	if body, err = gunzipPush(e, body); err != nil {
		return err
	}
	changes, err := rsync.DecodeChanges(body)
	if err != nil {
		return router.NewBadRequestError(err.Error(), nil)
	}
	n := 0
	for _, tc := range changes {
		n += len(tc.Created) + len(tc.Updated) + len(tc.Deleted)
	}
	if n > MaxPushRecords {
		return router.NewApiError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("A push may carry at most %d records; this one has %d. Push in smaller batches.", MaxPushRecords, n), nil)
	}
	release, err := queue.enter(e.Request.Context(), e.Auth.Id)
	if err != nil {
		var busy busyError
		if errors.As(err, &busy) {
			return busy.answer(e, queue.max)
		}
		return router.NewApiError(http.StatusRequestTimeout, "The push was given up while it waited for its turn; nothing was changed.", nil)
	}
	now := deps.Now()
	res, err := rsync.Push(e.Request.Context(), e.App, rsync.PushRequest{
		Rep: e.Auth.Id, Device: device, LastPulledAt: lastPulledAt, Changes: changes, Now: now, Grace: deps.TerritoryGrace,
	})
	release()
	if err != nil {
		e.App.Logger().Error("sync push failed", "user", e.Auth.Id, "error", err)
		return router.NewInternalServerError("The push could not be applied; nothing was changed. Try again.", err)
	}
	refused := 0
	for _, ids := range res.ExperimentalRejectedIDs {
		refused += len(ids)
	}
	devices.note(e.Auth.Id, device, e.Request.UserAgent(), now, refused)
	return e.JSON(http.StatusOK, res)
}

// drainPushBytes is how much of an oversized push the server reads (and
// throws away) before it answers: a client that is still sending when the
// server closes the connection sees "connection reset", not the 413, and a
// phone retries that forever. Past this the connection is closed anyway.
const drainPushBytes = 4 * MaxPushBytes

// gunzipPush decompresses a push sent with Content-Encoding: gzip; the
// limit holds after decompression (a small body that inflates past it is
// refused as too large, without inflating it all).
func gunzipPush(e *core.RequestEvent, body []byte) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(e.Request.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, router.NewBadRequestError("The push body says Content-Encoding: gzip but is not gzip data.", nil)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, MaxPushBytes+1))
		if err != nil {
			return nil, router.NewBadRequestError("The gzip push body is corrupt: "+err.Error(), nil)
		}
		if len(plain) > MaxPushBytes {
			return nil, router.NewApiError(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("A push body may be at most %d MB once decompressed. Push in smaller batches.", MaxPushBytes>>20), nil)
		}
		return plain, nil
	default:
		return nil, router.NewApiError(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported; send gzip or nothing.", clipQuery(enc)), nil)
	}
}

// pushTooLarge answers 413 naming the limit, after reading the rest of the
// body (up to drainPushBytes) so that the client can read the answer.
func pushTooLarge(e *core.RequestEvent) error {
	if e.Request.ContentLength <= drainPushBytes {
		n, _ := io.Copy(io.Discard, io.LimitReader(e.Request.Body, drainPushBytes))
		if n >= drainPushBytes {
			e.Response.Header().Set("Connection", "close")
		}
	} else {
		e.Response.Header().Set("Connection", "close")
	}
	return router.NewApiError(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("A push body may be at most %d MB. Push in smaller batches.", MaxPushBytes>>20), nil)
}

// deviceLog records when each device last synced, for admins. Syncs only
// note it in memory; a background flush writes all of them in one
// transaction every second, so pulls never wait for the writer.
type deviceLog struct {
	*ticker
	app     core.App
	mu      gosync.Mutex
	pending map[[2]string]deviceSeen
}

type deviceSeen struct {
	userAgent  string
	pull, push time.Time
	refused    int // records refused in the last push
}

func newDeviceLog(app core.App) *deviceLog {
	l := &deviceLog{app: app, pending: map[[2]string]deviceSeen{}}
	l.ticker = newTicker(time.Second, l.flush)
	return l
}

// note records a pull, or a push (refused: how many of its records were
// refused; -1 for a pull).
func (l *deviceLog) note(user, device, userAgent string, at time.Time, refused int) {
	if device == "" {
		return
	}
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{user, device}
	seen := l.pending[key]
	seen.userAgent = userAgent
	if refused >= 0 {
		seen.push, seen.refused = at, refused
	} else {
		seen.pull = at
	}
	l.pending[key] = seen
}

func (l *deviceLog) flush() {
	l.mu.Lock()
	batch := l.pending
	l.pending = map[[2]string]deviceSeen{}
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := l.app.RunInTransaction(func(tx core.App) error {
		q := tx.DB().NewQuery(upsertSyncDevice).Prepare()
		defer q.Close()
		now := types.NowDateTime().String()
		for key, seen := range batch {
			pushed, refused := "", 0
			if !seen.push.IsZero() {
				pushed, refused = dateText(seen.push), seen.refused
			}
			synced := seen.pull
			if seen.push.After(synced) {
				synced = seen.push
			}
			_, err := q.Bind(dbx.Params{
				"id": core.GenerateDefaultRandomId(), "user": key[0], "device": key[1], "agent": seen.userAgent,
				"pulled": dateText(seen.pull), "pushed": pushed, "synced": dateText(synced), "refused": refused, "now": now,
			}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.app.Logger().Warn("could not record sync devices", "devices", len(batch), "error", err)
	}
}

// upsertSyncDevice records one device's syncs in sync_devices: a new row,
// or the times that are set ({:pulled}, {:pushed}; empty when the device
// did not do that since the last flush) written over the old ones.
// last_sync_at only moves forward (PocketBase's date text sorts as time).
// refused and stuck_since change only with a push: stuck_since is the
// first of an unbroken run of pushes with refusals. A user deleted
// meanwhile gets no row.
//
// It is one statement rather than a record save per device because the
// flush holds the single writer: saving 150 records through PocketBase
// took 40-130 ms every second, and every push in that window waited.
const upsertSyncDevice = `
INSERT INTO sync_devices (id, user, device_id, user_agent, last_pull_at, last_push_at, last_sync_at, refused, stuck_since, created, updated)
SELECT {:id}, {:user}, {:device}, {:agent}, {:pulled}, {:pushed}, {:synced}, {:refused},
       CASE WHEN {:refused} > 0 THEN {:pushed} ELSE '' END, {:now}, {:now}
WHERE EXISTS (SELECT 1 FROM users WHERE id = {:user})
ON CONFLICT (user, device_id) DO UPDATE SET
  user_agent   = excluded.user_agent,
  last_pull_at = CASE WHEN excluded.last_pull_at != '' THEN excluded.last_pull_at ELSE sync_devices.last_pull_at END,
  last_push_at = CASE WHEN excluded.last_push_at != '' THEN excluded.last_push_at ELSE sync_devices.last_push_at END,
  last_sync_at = max(sync_devices.last_sync_at, excluded.last_sync_at),
  refused      = CASE WHEN excluded.last_push_at != '' THEN excluded.refused ELSE sync_devices.refused END,
  stuck_since  = CASE WHEN excluded.last_push_at = '' THEN sync_devices.stuck_since
                      WHEN excluded.refused = 0 THEN ''
                      WHEN sync_devices.stuck_since != '' THEN sync_devices.stuck_since
                      ELSE excluded.last_push_at END,
  updated      = excluded.updated`

// dateText is a time as PocketBase stores a date field; empty for the zero time.
func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(types.DefaultDateLayout)
}

// clipQuery shortens a query value quoted back in an error.
func clipQuery(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
