package hooks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/crm"
	"rounds/manager"
	"rounds/policy"
)

// pageSecurity is the content policy of the managers' page: its own
// scripts, styles and API only, and images from the map's tile server;
// never framed; no address sent on.
func pageSecurity(tiles string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: " + tileSource(tiles) + "; connect-src 'self'; " +
		"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
}

// DefaultMapTiles is OpenStreetMap's tile server, the map's default.
const DefaultMapTiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

// ParseMapTiles checks a tile URL template (ROUNDS_MAP_TILES): http(s),
// with {z}, {x} and {y}, and {s} (subdomains a, b, c) only as the host's
// first label. Empty means DefaultMapTiles.
func ParseMapTiles(s string) (string, error) {
	if s == "" {
		return DefaultMapTiles, nil
	}
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("ROUNDS_MAP_TILES must be a tile URL template such as %s (%s), got %q", DefaultMapTiles, why, s)
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(s, p) {
			return bad("it lacks " + p)
		}
	}
	u, err := url.Parse(strings.NewReplacer("{s}", "s", "{z}", "0", "{x}", "0", "{y}", "0", "{r}", "").Replace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return bad("an http or https address")
	}
	if n := strings.Count(s, "{s}"); n > 1 || n == 1 && !strings.HasPrefix(s, u.Scheme+"://{s}.") {
		return bad("{s} only as the first part of the host name")
	}
	return s, nil
}

// tileSource is the content-policy source of a tile template: its scheme,
// host and port ({s}. as a wildcard).
func tileSource(tiles string) string {
	scheme, rest, _ := strings.Cut(tiles, "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + strings.Replace(host, "{s}", "*", 1)
}

// mapConfig is /manager/map-config.json: what the page's map loads tiles
// from, and the credit the tiles ask for.
type mapConfig struct {
	Tiles       string `json:"tiles"`
	Attribution string `json:"attribution"`
}

func mapConfigOf(tiles string) mapConfig {
	if tiles == DefaultMapTiles {
		return mapConfig{Tiles: tiles, Attribution: "© OpenStreetMap contributors"}
	}
	return mapConfig{Tiles: tiles, Attribution: "Map tiles: " + strings.Replace(tileSource(tiles), "*.", "", 1)}
}

// serveEmbedded serves embedded files at prefix/ (prefix alone redirects there)
// under a content policy: never sniffed, no address sent on, and revalidated
// on every load (no-cache), so that a new build is picked up at once.
func serveEmbedded(se *core.ServeEvent, prefix string, files fs.FS, policy string) {
	se.Router.GET(prefix, func(e *core.RequestEvent) error {
		return e.Redirect(http.StatusMovedPermanently, prefix+"/")
	})
	se.Router.GET(prefix+"/{path...}", apis.Static(files, false)).BindFunc(func(e *core.RequestEvent) error {
		h := e.Response.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		return e.Next()
	})
}

// registerManager serves the managers' page and its one write: handing a
// customer from one rep of the team to another.
func registerManager(app core.App, deps Deps) {
	tiles := deps.MapTiles
	if tiles == "" {
		tiles = DefaultMapTiles
	}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		// (public, as the page's own files are: no data, only where tiles come from)
		se.Router.GET("/manager/map-config.json", func(e *core.RequestEvent) error {
			e.Response.Header().Set("Cache-Control", "no-cache")
			return e.JSON(http.StatusOK, mapConfigOf(tiles))
		})
		serveEmbedded(se, "/manager", manager.Files(), pageSecurity(tiles))
		se.Router.POST("/api/manager/hand-over", handleHandOver)
		return se.Next()
	})
}

// handOverRequest is the body of POST /api/manager/hand-over: one customer,
// a chosen set, or every customer of one rep, to one rep.
type handOverRequest struct {
	Customer  string   `json:"customer"`
	Customers []string `json:"customers"`
	From      string   `json:"from"`
	To        string   `json:"to"`
}

// maxHandOver is the most customers one hand-over moves.
const maxHandOver = 5000

// handedByKey carries who handed a customer over into the owner-change
// hook, which records it in the customer's timeline.
type handedByKey struct{}

// handleHandOver moves customers to another rep when the policy lets the
// caller hand over every one of them (policy.HandsOver), all in one
// transaction: one refusal and nothing moves. The territory hook hands the
// open follow-ups on and the sync carries the change to the phones. It
// answers the customers moved and their new owner.
func handleHandOver(e *core.RequestEvent) error {
	actor := actorOf(e.Auth)
	if actor.Role != policy.Superuser && !actor.SignedIn() {
		return router.NewUnauthorizedError("Sign in with an active manager's account.", nil)
	}
	const shape = `{"customer": "<id>"}, {"customers": ["<id>", ...]} or {"from": "<rep id>"}, with "to": "<rep id>"`
	var req handOverRequest
	if err := e.BindBody(&req); err != nil {
		return router.NewBadRequestError("The body must be JSON: "+shape+".", nil)
	}
	req.Customer, req.From, req.To = strings.TrimSpace(req.Customer), strings.TrimSpace(req.From), strings.TrimSpace(req.To)
	given := 0
	for _, set := range []bool{req.Customer != "", req.Customers != nil, req.From != ""} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		return router.NewBadRequestError(`Say which customers to hand over: `+shape+".", nil)
	case given > 1:
		return router.NewBadRequestError(`Give one of "customer", "customers" and "from", not several.`, nil)
	case req.To == "":
		return router.NewBadRequestError(`The field "to" is required: the id of the rep who takes the customers.`, nil)
	case req.Customers != nil && len(req.Customers) == 0:
		return router.NewBadRequestError(`"customers" is empty: list the ids of the customers to hand over.`, nil)
	case len(req.Customers) > maxHandOver:
		return router.NewBadRequestError(fmt.Sprintf(`"customers" lists %d customers; at most %d move at once.`, len(req.Customers), maxHandOver), nil)
	}
	var moved []string
	err := e.App.RunInTransaction(func(tx core.App) error {
		res := dbResolver{tx}
		ids, err := handOverSet(tx, actor, req)
		if err != nil {
			return err
		}
		// every customer is checked before any moves
		for _, id := range ids {
			if !policy.For(crm.Customers).Reads(actor, res, id) {
				return router.NewNotFoundError(fmt.Sprintf("customer %q was not found among your team's customers; nothing was handed over.", clipQuery(id)), nil)
			}
		}
		for _, id := range ids {
			if why := policy.HandOverRefusal(actor, res, id, req.To); why != "" {
				if len(ids) > 1 {
					why = fmt.Sprintf("%s (customer %q); nothing was handed over", why, clipQuery(id))
				}
				return router.NewForbiddenError(why+".", nil)
			}
		}
		ctx := e.Request.Context()
		if actor.Role == policy.Manager {
			ctx = context.WithValue(ctx, handedByKey{}, actor.ID)
		}
		for _, id := range ids {
			customer, err := tx.FindRecordById(crm.Customers, id)
			if err != nil {
				return err
			}
			customer.Set("owner", req.To)
			if err := tx.SaveWithContext(ctx, customer); err != nil {
				return fmt.Errorf("hand over %s: %w", id, err)
			}
		}
		moved = ids
		return nil
	})
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			return apiErr
		}
		return router.NewInternalServerError("The customers could not be handed over; nothing changed.", err)
	}
	if req.Customer != "" {
		return e.JSON(http.StatusOK, map[string]any{"customer": req.Customer, "owner": req.To})
	}
	return e.JSON(http.StatusOK, map[string]any{"moved": moved, "count": len(moved), "owner": req.To})
}

// handOverSet is the customers a hand-over names, each once, in the order
// given (a rep's: every customer they own that the caller reads, by name).
func handOverSet(tx core.App, actor policy.Actor, req handOverRequest) ([]string, error) {
	switch {
	case req.Customer != "":
		return []string{req.Customer}, nil
	case req.From != "":
		var all []string
		if err := tx.DB().NewQuery("SELECT id FROM customers WHERE owner = {:o} ORDER BY name, id").Bind(dbx.Params{"o": req.From}).Column(&all); err != nil {
			return nil, err
		}
		res := dbResolver{tx}
		ids := slices.DeleteFunc(all, func(id string) bool { return !policy.For(crm.Customers).Reads(actor, res, id) })
		if len(ids) == 0 {
			return nil, router.NewNotFoundError(fmt.Sprintf("user %q holds no customer of your team.", clipQuery(req.From)), nil)
		}
		if len(ids) > maxHandOver {
			return nil, router.NewBadRequestError(fmt.Sprintf("user %q holds %d customers; at most %d move at once: choose them with \"customers\".", clipQuery(req.From), len(ids), maxHandOver), nil)
		}
		return ids, nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range req.Customers {
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, router.NewBadRequestError(`"customers" holds an empty id.`, nil)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}
