package hooks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/crm"
	rsync "rounds/sync"
)

// Limits of one push; a larger one gets a 413 that names the limit.
const (
	MaxPushBytes   = 16 << 20
	MaxPushRecords = 20000
)

// registerSync serves /api/sync/{schema,pull,push} and keeps the change
// capture triggers in place when a synced collection's table is rebuilt.
func registerSync(app core.App, deps Deps) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		g := se.Router.Group("/api/sync")
		g.GET("/schema", func(e *core.RequestEvent) error {
			return e.JSON(http.StatusOK, rsync.Schema())
		})
		g.GET("/pull", func(e *core.RequestEvent) error { return handlePull(e, deps) }).
			Bind(apis.RequireAuth(crm.Users))
		g.POST("/push", func(e *core.RequestEvent) error { return handlePush(e, deps) }).
			Bind(apis.RequireAuth(crm.Users), apis.BodyLimit(MaxPushBytes+1))
		return se.Next()
	})

	reinstall := func(e *core.CollectionEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if _, ok := rsync.TableByName(e.Collection.Name); ok {
			return rsync.InstallTriggers(e.App.DB(), e.Collection.Name)
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

func handlePull(e *core.RequestEvent, deps Deps) error {
	device, err := deviceID(e)
	if err != nil {
		return err
	}
	query := e.Request.URL.Query()
	cursor, migration, err := rsync.ParsePullQuery(query.Get("last_pulled_at"), query.Get("schema_version"), query.Get("migration"))
	if err != nil {
		return router.NewBadRequestError(err.Error(), nil)
	}
	now := deps.Now()
	e.Response.Header().Set("Content-Type", "application/json")
	e.Response.WriteHeader(http.StatusOK)
	err = rsync.Pull(e.Request.Context(), e.App, rsync.PullRequest{
		Rep: e.Auth.Id, Device: device, LastPulledAt: cursor, Migration: migration, Now: now,
	}, e.Response)
	if err != nil {
		// the status line is gone; the client sees a truncated body and retries
		e.App.Logger().Error("sync pull failed", "user", e.Auth.Id, "error", err)
		return nil
	}
	recordDevice(e.App, e.Auth.Id, device, e.Request.UserAgent(), now, "last_pull_at")
	return nil
}

func handlePush(e *core.RequestEvent, deps Deps) error {
	device, err := deviceID(e)
	if err != nil {
		return err
	}
	raw := e.Request.URL.Query().Get("last_pulled_at")
	lastPulledAt, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || lastPulledAt < 0 {
		return router.NewBadRequestError(fmt.Sprintf("Query parameter last_pulled_at must be the timestamp of the pull before this push, got %q", raw), nil)
	}
	body, err := io.ReadAll(io.LimitReader(e.Request.Body, MaxPushBytes+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return pushTooLarge()
		}
		return router.NewBadRequestError("Could not read the push body.", err)
	}
	if len(body) > MaxPushBytes {
		return pushTooLarge()
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
	now := deps.Now()
	res, err := rsync.Push(e.Request.Context(), e.App, rsync.PushRequest{
		Rep: e.Auth.Id, Device: device, LastPulledAt: lastPulledAt, Changes: changes, Now: now,
	})
	if err != nil {
		return err
	}
	recordDevice(e.App, e.Auth.Id, device, e.Request.UserAgent(), now, "last_push_at")
	return e.JSON(http.StatusOK, res)
}

func pushTooLarge() error {
	return router.NewApiError(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("A push body may be at most %d MB. Push in smaller batches.", MaxPushBytes>>20), nil)
}

// recordDevice notes when a device last synced, for admins.
func recordDevice(app core.App, user, device, userAgent string, now time.Time, field string) {
	if device == "" {
		return
	}
	r, err := app.FindFirstRecordByFilter(crm.SyncDevices, "user = {:u} && device_id = {:d}", dbx.Params{"u": user, "d": device})
	if err != nil {
		c, cerr := app.FindCachedCollectionByNameOrId(crm.SyncDevices)
		if cerr != nil {
			return
		}
		r = core.NewRecord(c)
		r.Set("user", user)
		r.Set("device_id", device)
	}
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	r.Set("user_agent", userAgent)
	r.Set(field, now.UTC())
	r.Set("last_sync_at", now.UTC())
	if err := app.Save(r); err != nil {
		app.Logger().Warn("could not record sync device", "user", user, "error", err)
	}
}
