package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"rounds/hooks"
	"rounds/internal/fakefcm"
	"rounds/seed"
)

// zoneAtNine returns a fixed-offset zone where it is between 09:00 and
// 09:59 now, so that a greeting is due whatever the hour of the test.
func zoneAtNine(now time.Time) (name string, loc *time.Location) {
	offset := 9 - now.UTC().Hour() // hours east of UTC
	if offset < -12 {
		offset += 24
	}
	name = "Etc/GMT" // Etc/GMT-3 is UTC+3
	switch {
	case offset > 0:
		name += fmt.Sprintf("-%d", offset)
	case offset < 0:
		name += fmt.Sprintf("+%d", -offset)
	}
	loc, _ = time.LoadLocation(name)
	return name, loc
}

type api struct {
	t    *testing.T
	base string
}

func (a api) do(method, path, token string, body any, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		a.t.Logf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return res.StatusCode
}

// TestCareEndToEnd runs the server process with FCM_ENDPOINT pointing at a
// fake FCM: one greeting on the birthday morning, none on the next run,
// none after opting out through the link; a follow-up due now reaches
// every phone of its rep and no customer.
func TestCareEndToEnd(t *testing.T) {
	t.Parallel()
	fake := fakefcm.Start()
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel) // after the server has stopped gracefully (cleanups run last-registered first)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "8", "--reps", "2")
	// runs after the server has stopped (cleanups run last-registered first)
	// and flushed its request log: no link token may be in it
	var tokens []string
	t.Cleanup(func() {
		db, err := sql.Open("sqlite", filepath.Join(dir, "auxiliary.db"))
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		var logged, leaked, redacted, status429 int
		_ = db.QueryRow("SELECT COUNT(*) FROM _logs WHERE data LIKE '%/api/care/preferences%'").Scan(&logged)
		_ = db.QueryRow("SELECT COUNT(*) FROM _logs WHERE data LIKE '%token=ey%'").Scan(&leaked)
		_ = db.QueryRow("SELECT COUNT(*) FROM _logs WHERE data LIKE '%token=REDACTED%'").Scan(&redacted)
		_ = db.QueryRow("SELECT COUNT(*) FROM _logs WHERE json_extract(data, '$.status') = 429").Scan(&status429)
		for _, tok := range tokens {
			var n int
			_ = db.QueryRow("SELECT COUNT(*) FROM _logs WHERE instr(data, ?) > 0", tok[len(tok)-20:]).Scan(&n)
			leaked += n
		}
		if logged == 0 || leaked != 0 || redacted < 6 || status429 == 0 {
			t.Errorf("request log: %d preference requests logged, %d with a token, %d redacted, %d answered 429", logged, leaked, redacted, status429)
		}
	})
	base, logs := startServer(t, ctx, dir, "FCM_PROJECT_ID=demo", "FCM_ENDPOINT="+fake.URL+"/v1", "ROUNDS_CARE_SECRET=e2e-care-secret-0123456789abcdef0123")
	a := api{t: t, base: base}
	admin := signIn(t, base, "_superusers", demoAdmin, demoAdminPassword)
	rep := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)

	var me struct {
		Record struct{ ID string } `json:"record"`
	}
	a.do("POST", "/api/collections/users/auth-refresh", rep, nil, &me)
	zone, loc := zoneAtNine(time.Now())
	today := time.Now().In(loc)

	// a contact of rep 1, invited and registered through the link
	var contacts struct {
		Items []struct{ ID, Customer string }
	}
	a.do("GET", "/api/collections/contacts/records?perPage=1&sort=id", rep, nil, &contacts)
	if len(contacts.Items) == 0 {
		t.Fatal("rep 1 has no contacts")
	}
	contact := contacts.Items[0].ID
	// quiet the rest of the world: only this contact has a birthday today
	var all struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/contacts/records?perPage=500&fields=id", admin, nil, &all)
	for _, c := range all.Items {
		a.do("PATCH", "/api/collections/contacts/records/"+c.ID, admin, map[string]any{"birthday": "", "care_opt_in": false}, nil)
	}
	a.do("PATCH", "/api/collections/contacts/records/"+contact, admin, map[string]any{"birthday": today.Format("01-02"), "birthday_calendar": "gregorian", "timezone": zone}, nil)
	a.do("PATCH", "/api/collections/users/records/"+me.Record.ID, admin, map[string]any{"timezone": zone}, nil)

	var invite struct{ Token string }
	if a.do("POST", "/api/care/invites", rep, map[string]any{"contact": contact}, &invite) != 200 {
		t.Fatal("invite failed")
	}
	var reg struct {
		PreferencesToken string `json:"preferences_token"`
	}
	if a.do("POST", "/api/care/register", "", map[string]any{"token": invite.Token, "fcm_token": "ok-customer-phone", "platform": "ios"}, &reg) != 200 {
		t.Fatal("register failed")
	}
	if a.do("POST", "/api/devices", rep, map[string]any{"token": "ok-rep1-second-phone", "platform": "android"}, nil) != 200 {
		t.Fatal("device registration failed")
	}

	// POST /api/crons/reminders starts the job in the background: wait
	// until the outbox has settled (no row still pending or in flight)
	runJob := func() {
		t.Helper()
		if status := a.do("POST", "/api/crons/reminders", admin, nil, nil); status != 204 {
			t.Fatalf("run reminders: %d\n%s", status, logs.String())
		}
		time.Sleep(300 * time.Millisecond)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var pending struct{ TotalItems int }
			a.do("GET", "/api/collections/notifications/records?perPage=1&filter="+url.QueryEscape("status='pending'"), admin, nil, &pending)
			if pending.TotalItems == 0 {
				return
			}
		}
		t.Fatal("the outbox did not settle")
	}
	greetings := func() []fakefcm.Message {
		var out []fakefcm.Message
		for _, m := range fake.Delivered() {
			if m.Data["kind"] == "birthday_greeting" {
				out = append(out, m)
			}
		}
		return out
	}

	// one greeting (one dedup key), delivered once to each of the contact's phones
	check := func(when string) {
		t.Helper()
		keys := map[string]bool{}
		toPhone := 0
		for _, m := range greetings() {
			keys[m.Data["dedup_key"]] = true
			if m.Token == "ok-customer-phone" {
				toPhone++
				if !strings.Contains(m.Data["preferences_url"], "/care/preferences?token=") {
					t.Fatalf("a customer push without its preferences link: %+v", m)
				}
			}
		}
		if len(keys) != 1 || toPhone != 1 {
			t.Fatalf("%s: %d greetings, %d to the registered phone; want exactly one", when, len(keys), toPhone)
		}
	}
	runJob()
	check("after the first run")
	runJob()
	check("after the second run")

	// opting out through the link stops everything, even a greeting that
	// would otherwise go out again
	prefs := "/api/care/preferences?token=" + url.QueryEscape(reg.PreferencesToken)
	if a.do("POST", prefs, "", map[string]any{"care_opt_in": false}, nil) != 200 {
		t.Fatal("opt-out failed")
	}
	var rows struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/notifications/records?filter="+url.QueryEscape("kind='birthday_greeting'"), admin, nil, &rows)
	for _, r := range rows.Items {
		a.do("DELETE", "/api/collections/notifications/records/"+r.ID, admin, nil, nil)
	}
	runJob()
	check("after opting out")

	// a follow-up due now reaches every phone of its rep, and no customer
	var devices struct{ Items []struct{ Token string } }
	a.do("GET", "/api/collections/devices/records?perPage=50", rep, nil, &devices)
	var want []string
	for _, d := range devices.Items {
		want = append(want, d.Token)
	}
	due := time.Now().UTC().Add(-time.Minute).Format("2006-01-02 15:04:05.000Z")
	var fu struct{ ID string }
	if a.do("POST", "/api/collections/follow_ups/records", rep, map[string]any{"customer": contacts.Items[0].Customer, "due_at": due, "note": "Call about the order"}, &fu) != 200 {
		t.Fatal("follow-up creation failed")
	}
	runJob()
	var got []string
	for _, m := range fake.Delivered() {
		if m.Data["kind"] == "follow_up_due" && m.Data["follow_up"] == fu.ID {
			got = append(got, m.Token)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Fatalf("follow-up went to %v, want every phone of the rep %v", got, want)
	}

	// the link token stays out of the request log on every route and
	// status: the invite page, a method no route serves, an unknown path,
	// a collection route, a Referer that carries it, the rate limit's 429
	tokens = append(tokens, invite.Token, reg.PreferencesToken)
	q := "?token=" + url.QueryEscape(invite.Token)
	for _, r := range []struct{ method, path string }{
		{"GET", "/care/register" + q}, {"PUT", "/api/care/register" + q}, {"DELETE", "/care/preferences" + q},
		{"GET", "/no/such/page" + q}, {"GET", "/api/collections/customers/records" + q},
	} {
		req, _ := http.NewRequest(r.method, base+r.path, nil)
		req.Header.Set("Referer", base+"/care/register"+q)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	for i := 0; i <= hooks.CareRateLimit; i++ {
		res, err := http.Get(base + "/api/care/preferences" + q)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if !strings.Contains(logs.String(), "Server started") {
		t.Logf("server log:\n%s", logs.String())
	}
}
