package hooks

import (
	"context"
	"net/url"
	"path/filepath"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"rounds/replica"
)

// registerReplication streams the database to its replica while the
// server runs (Deps.Replica; off when nil), and ships the last writes when
// it stops, after PocketBase has closed its own connections.
func registerReplication(app core.App, deps Deps) {
	if deps.Replica == nil {
		return
	}
	var r *replica.Replicator
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		var err error
		path := filepath.Join(se.App.DataDir(), "data.db")
		if r, err = replica.Start(context.Background(), path, *deps.Replica, se.App.Logger().With("replica", where(deps.Replica.URL))); err != nil {
			return err
		}
		se.App.Logger().Info("replicating the database", "to", where(deps.Replica.URL))
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		err := e.Next()
		if r != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if cerr := r.Close(ctx); cerr != nil {
				e.App.Logger().Error("replica: the last writes may not have been shipped", "error", cerr)
			}
		}
		return err
	})
}

// where is a replica URL without credentials or query, for logs.
func where(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
