// Package manager holds the sales managers' page (/manager/): static files
// embedded in the binary, so that `go build` and `make run` need nothing
// else. The page reads everything through the API, so the access policy
// decides what a manager sees; its one write is a customer's hand-over
// (POST /api/manager/hand-over).
package manager

import (
	"embed"
	"io/fs"
)

//go:embed web
var files embed.FS

// Files are the page's files: index.html, app.js, app.css.
func Files() fs.FS {
	sub, err := fs.Sub(files, "web")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
