// Package app holds the reps' web app (/app/): the build in dist/, made by
// `make app` from the sources in src/ (README's sync client included, as
// printed) and committed, so that `go build` and `make run` need no Node.
// The app reads and writes its own WatermelonDB database in the browser and
// reaches the server only through /api/sync and sign-in, so the access
// policy decides what it holds.
package app

import (
	"embed"
	"io/fs"
)

//go:embed dist
var files embed.FS

// Files are the built app: index.html, app.js, app.css, sw.js, the manifest
// and the icon.
func Files() fs.FS {
	sub, err := fs.Sub(files, "dist")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
