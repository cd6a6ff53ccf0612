package hooks

import (
	"github.com/pocketbase/pocketbase/core"

	webapp "rounds/app"
)

// appSecurity is the content policy of the reps' app: its own files, its
// own API, its service worker and manifest; never framed; no address sent
// on. Map links open OpenStreetMap in a new tab (navigation, not loading).
const appSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"manifest-src 'self'; worker-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// registerApp serves the reps' app at /app/ (embedded, see package app).
// Every file is revalidated: the service worker keeps the copy the app runs
// offline from, and a new build replaces it.
func registerApp(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		serveEmbedded(se, "/app", webapp.Files(), appSecurity)
		return se.Next()
	})
}
