// Package testapp builds PocketBase test apps wired exactly like production:
// the Rounds migrations, hooks.Register, and a small known company.
//
// The company is built once per test binary into a template data directory;
// every New clones it (a few milliseconds), so tests may write freely.
package testapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/hooks"
	_ "rounds/pb_migrations"
	"rounds/seed"
)

// Fixed "now" of the test company: Monday 2026-03-02 10:00 UTC.
var Now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Actors of the access tests.
const (
	Anon     = "anonymous"
	RepA     = "rep A"
	RepB     = "rep B"
	ManagerA = "A's manager"
	ManagerX = "another manager"
	RepX     = "rep X" // reports to ManagerX
	Admin    = "superuser"
)

// Ids of the fixture records. Each rep owns one customer with a contact, a
// visit, a follow-up, a draft order with one line and a submitted order.
const (
	UserRepA     = "userrepa0000001"
	UserRepB     = "userrepb0000001"
	UserRepX     = "userrepx0000001"
	UserManagerA = "usermanagera001"
	UserManagerX = "usermanagerx001"

	CustomerA = "customera000001"
	CustomerB = "customerb000001"
	CustomerX = "customerx000001"

	ContactA = "contacta0000001"
	ContactB = "contactb0000001"

	VisitA = "visita000000001"
	VisitB = "visitb000000001"

	FollowUpA = "followupa000001"
	FollowUpB = "followupb000001"

	OrderA          = "ordera000000001" // draft
	OrderB          = "orderb000000001" // draft
	OrderASubmitted = "ordera000000002"

	LineA          = "linea0000000001" // on OrderA
	LineB          = "lineb0000000001" // on OrderB
	LineASubmitted = "linea0000000002" // on OrderASubmitted

	ProductCoffee  = "productcoffee01" // EUR 12.50, active
	ProductCups    = "productcups0001" // EUR 0.10, active
	ProductRetired = "productretired1" // EUR 5.00, inactive
	ProductUSD     = "productusd00001" // USD 9.99, active

	DeviceA       = "devicea00000001"
	DeviceB       = "deviceb00000001"
	ContactDevice = "contactdevice01"
	Campaign      = "campaign0000001"
	Notification  = "notification001"
	Conflict      = "conflict0000001"

	AdminEmail = "admin@rounds.test"
	Password   = "test-password"
)

// Fixtures describe the template company.
type Fixtures struct {
	Dir    string
	Tokens map[string]string // actor -> auth token ("" for anonymous)
}

var (
	once     sync.Once
	fixtures Fixtures
	onceErr  error
)

// Load builds the template company once per test binary.
func Load(t testing.TB) Fixtures {
	t.Helper()
	once.Do(func() { fixtures, onceErr = build() })
	if onceErr != nil {
		t.Fatalf("build test company: %v", onceErr)
	}
	return fixtures
}

// newApp is tests.NewTestApp (a clone of dir) opening its databases as the
// server does.
func newApp(dir string) (*tests.TestApp, error) {
	return tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: dir, EncryptionEnv: "pb_test_env", DBConnect: hooks.DBConnect})
}

// New returns a fresh app holding the test company; it is cleaned up with t.
func New(t testing.TB) *tests.TestApp {
	t.Helper()
	return NewWith(t, Deps())
}

// NewWith is New with other dependencies (a clock that moves, say).
func NewWith(t testing.TB, deps hooks.Deps) *tests.TestApp {
	t.Helper()
	f := Load(t)
	app, err := newApp(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	hooks.Register(app, deps)
	t.Cleanup(app.Cleanup)
	return app
}

// CareSecret signs the test apps' customer links.
var CareSecret = []byte("test-care-secret-0123456789abcdef")

// Deps are the dependencies of the test apps: a fixed clock and secret.
func Deps() hooks.Deps {
	return hooks.Deps{Now: func() time.Time { return Now }, CareSecret: CareSecret}
}

// Token is the auth token of an actor ("" for anonymous).
func Token(t testing.TB, actor string) string {
	return Load(t).Tokens[actor]
}

func build() (Fixtures, error) {
	dir, err := os.MkdirTemp("", "rounds-testapp-")
	if err != nil {
		return Fixtures{}, err
	}
	defer os.RemoveAll(dir)
	app, err := newApp(dir) // an empty dir: system and Rounds migrations run
	if err != nil {
		return Fixtures{}, err
	}
	defer app.Cleanup()
	hooks.Register(app, Deps())

	f := Fixtures{Tokens: map[string]string{Anon: ""}}
	if err := company(app, f.Tokens); err != nil {
		return Fixtures{}, err
	}

	// the clone becomes the template: copy it before Cleanup removes it
	clone, err := tests.TempDirClone(app.DataDir())
	if err != nil {
		return Fixtures{}, err
	}
	// it outlives every test of the process, which has no hook at its end:
	// named by the process, it is removed by the first test process after
	// it (each CI run left one per test package in the temporary directory)
	sweepTemplates()
	f.Dir = filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-%d", templatePrefix, os.Getpid(), time.Now().UnixNano()))
	if err := os.Rename(clone, f.Dir); err != nil {
		return Fixtures{}, err
	}
	return f, nil
}

const templatePrefix = "rounds-fixtures-"

// sweepTemplates removes the templates of test processes that have ended.
func sweepTemplates() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), templatePrefix+"*"))
	for _, dir := range dirs {
		var pid, stamp int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(filepath.Base(dir), templatePrefix), "%d-%d", &pid, &stamp); err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(int(pid), 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

func company(app core.App, tokens map[string]string) error {
	var errs []error
	save := func(collection string, id string, data map[string]any) *core.Record {
		c, err := app.FindCollectionByNameOrId(collection)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		r := core.NewRecord(c)
		r.Id = id
		r.Load(data)
		if err := app.Save(r); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", collection, id, err))
		}
		return r
	}
	user := func(actor, id, email, role, manager, tz string) {
		c, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			errs = append(errs, err)
			return
		}
		r := core.NewRecord(c)
		r.Id = id
		r.SetEmail(email)
		r.SetPassword(Password)
		r.SetVerified(true)
		r.Load(map[string]any{"name": actor, "role": role, "manager": manager, "timezone": tz, "active": true})
		if err := app.Save(r); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", id, err))
			return
		}
		token, err := r.NewAuthToken()
		if err != nil {
			errs = append(errs, err)
		}
		tokens[actor] = token
	}

	super, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	admin := core.NewRecord(super)
	admin.SetEmail(AdminEmail)
	admin.SetPassword(Password)
	if err := app.Save(admin); err != nil {
		return err
	}
	if tokens[Admin], err = admin.NewAuthToken(); err != nil {
		return err
	}

	user(ManagerA, UserManagerA, "manager.a@rounds.test", "manager", "", "Europe/Berlin")
	user(ManagerX, UserManagerX, "manager.x@rounds.test", "manager", "", "America/New_York")
	user(RepA, UserRepA, "rep.a@rounds.test", "rep", UserManagerA, "Europe/Berlin")
	user(RepB, UserRepB, "rep.b@rounds.test", "rep", UserManagerA, "Europe/Berlin")
	user(RepX, UserRepX, "rep.x@rounds.test", "rep", UserManagerX, "America/New_York")

	save("products", ProductCoffee, map[string]any{"sku": "COFFEE-1KG", "name": "Coffee 1 kg", "unit_price": 12.50, "currency": "EUR", "active": true})
	save("products", ProductCups, map[string]any{"sku": "CUPS-100", "name": "Cups", "unit_price": 0.10, "currency": "EUR", "active": true})
	save("products", ProductRetired, map[string]any{"sku": "OLD-1", "name": "Retired", "unit_price": 5, "currency": "EUR", "active": false})
	save("products", ProductUSD, map[string]any{"sku": "US-1", "name": "Imported", "unit_price": 9.99, "currency": "USD", "active": true})

	type rep struct{ user, customer, contact, visit, followUp, order, line string }
	for _, r := range []rep{
		{UserRepA, CustomerA, ContactA, VisitA, FollowUpA, OrderA, LineA},
		{UserRepB, CustomerB, ContactB, VisitB, FollowUpB, OrderB, LineB},
	} {
		save("customers", r.customer, map[string]any{"name": "Shop of " + r.user, "owner": r.user, "lat": 52.52, "lng": 13.405, "timezone": "Europe/Berlin", "tier": "A"})
		save("contacts", r.contact, map[string]any{"customer": r.customer, "name": "Contact of " + r.user, "birthday": "03-02", "care_opt_in": true})
		save("visits", r.visit, map[string]any{"customer": r.customer, "contact": r.contact, "rep": r.user, "planned_at": Now, "checked_in_at": Now, "check_in_lat": 52.5201, "check_in_lng": 13.4051, "notes": "first visit"})
		save("follow_ups", r.followUp, map[string]any{"customer": r.customer, "contact": r.contact, "visit": r.visit, "assignee": r.user, "due_at": Now.Add(48 * time.Hour), "note": "send prices", "status": "open"})
		save("orders", r.order, map[string]any{"customer": r.customer, "rep": r.user, "visit": r.visit, "status": "draft", "currency": "EUR"})
		save("order_lines", r.line, map[string]any{"order": r.order, "product": ProductCoffee, "quantity": 2})
	}
	save("customers", CustomerX, map[string]any{"name": "Shop of rep X", "owner": UserRepX, "timezone": "America/New_York", "tier": "B"})
	save("orders", OrderASubmitted, map[string]any{"customer": CustomerA, "rep": UserRepA, "status": "draft", "currency": "EUR"})
	save("order_lines", LineASubmitted, map[string]any{"order": OrderASubmitted, "product": ProductCups, "quantity": 100})
	if o, err := app.FindRecordById("orders", OrderASubmitted); err == nil {
		o.Set("status", "submitted")
		if err := app.Save(o); err != nil {
			errs = append(errs, err)
		}
	}

	save("devices", DeviceA, map[string]any{"user": UserRepA, "token": "fcm-token-a", "platform": "android"})
	save("devices", DeviceB, map[string]any{"user": UserRepB, "token": "fcm-token-b", "platform": "ios"})
	save("contact_devices", ContactDevice, map[string]any{"contact": ContactA, "token": "fcm-contact-a", "platform": "ios"})
	save("care_campaigns", Campaign, map[string]any{"name": "New Year", "date": "01-01", "title": "Happy New Year", "body": "All the best", "active": true})
	save("notifications", Notification, map[string]any{"kind": "birthday_greeting", "audience": "customer", "contact": ContactA, "dedup_key": "birthday:" + ContactA + ":2025-03-02", "status": "sent", "sent_at": Now.AddDate(-1, 0, 0)})
	save("sync_conflicts", Conflict, map[string]any{"collection": "customers", "record_id": CustomerA, "field": "phone", "server_value": "1", "client_value": "2", "resolution": "server", "rule": "latest edit wins", "user": UserRepA})

	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Client sends requests to an app through the real PocketBase router.
type Client struct {
	t   testing.TB
	mux http.Handler
}

// NewClient builds the router of app once, with every OnServe hook bound.
func NewClient(t testing.TB, app *tests.TestApp) *Client {
	t.Helper()
	router, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	e := new(core.ServeEvent)
	e.App = app
	e.Router = router
	var mux http.Handler
	err = app.OnServe().Trigger(e, func(e *core.ServeEvent) error {
		m, err := e.Router.BuildMux()
		mux = m
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, mux: mux}
}

// For returns the client reporting to t (inside fuzz targets and subtests).
func (c *Client) For(t testing.TB) *Client {
	cc := *c
	cc.t = t
	return &cc
}

// Handler is the app's router, for an httptest.Server.
func (c *Client) Handler() http.Handler { return c.mux }

// Response is a recorded answer.
type Response struct {
	Status int
	Body   string
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Do sends method url with body (a string, []byte, or anything JSON-encodable; nil for none) as actor.
func (c *Client) Do(actor, method, url string, body any) Response {
	c.t.Helper()
	return c.DoWithHeaders(actor, method, url, body, nil)
}

// DoWithHeaders is Do with extra request headers.
func (c *Client) DoWithHeaders(actor, method, url string, body any, headers map[string]string) Response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token := Token(c.t, actor); token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.mux.ServeHTTP(rec, req)
	return Response{Status: rec.Code, Body: rec.Body.String()}
}

// Empty returns an app with the Rounds schema and hooks and no data (the
// default clock and generated secrets), cleaned up with t.
func Empty(t testing.TB) *tests.TestApp {
	t.Helper()
	app, err := newApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	hooks.Register(app, hooks.Deps{})
	return app
}

// Seeded returns an Empty app filled by the seed with opts.
func Seeded(t testing.TB, opts seed.Options) *tests.TestApp {
	t.Helper()
	app := Empty(t)
	if _, err := seed.Run(context.Background(), app, opts, io.Discard); err != nil {
		t.Fatal(err)
	}
	return app
}
