package push_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/internal/testapp"
	"rounds/push"
)

var now = testapp.Now

func enqueue(t *testing.T, app *tests.TestApp, key string, fields map[string]any) {
	t.Helper()
	c, _ := app.FindCollectionByNameOrId("notifications")
	n := core.NewRecord(c)
	n.Load(map[string]any{"kind": "test", "dedup_key": key, "status": "pending", "title": "Hello", "body": "World"})
	n.Load(fields)
	if err := app.Save(n); err != nil {
		t.Fatal(err)
	}
}

func row(t *testing.T, app *tests.TestApp, key string) *core.Record {
	t.Helper()
	n, err := app.FindFirstRecordByFilter("notifications", "dedup_key = {:k}", dbx.Params{"k": key})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func addDevice(t *testing.T, app *tests.TestApp, collection, owner, ownerField, token string) {
	t.Helper()
	c, _ := app.FindCollectionByNameOrId(collection)
	d := core.NewRecord(c)
	d.Load(map[string]any{ownerField: owner, "token": token, "platform": "android"})
	if err := app.Save(d); err != nil {
		t.Fatal(err)
	}
}

func deliver(t *testing.T, app *tests.TestApp, s push.Sender, at time.Time) push.Stats {
	t.Helper()
	st, err := push.Deliver(context.Background(), app, s, at, 100)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDeliverToEveryDeviceOnce(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	addDevice(t, app, "devices", testapp.UserRepA, "user", "fcm-token-a2")
	enqueue(t, app, "follow_up:1", map[string]any{"audience": "rep", "user": testapp.UserRepA, "data": map[string]any{"follow_up": "f1"}})
	rec := &push.Recorder{}
	deliver(t, app, rec, now)
	if got := rec.Tokens(); !slices.Equal(got, []string{"fcm-token-a", "fcm-token-a2"}) {
		t.Fatalf("sent to %v", got)
	}
	m := rec.Sent[0]
	if m.Data["follow_up"] != "f1" || m.Data["kind"] != "test" || m.CollapseKey != "follow_up:1" || m.Title != "Hello" {
		t.Fatalf("message %+v", m)
	}
	n := row(t, app, "follow_up:1")
	if n.GetString("status") != "sent" || n.GetString("message_id") == "" || !n.GetDateTime("sent_at").Time().Equal(now) || n.GetInt("attempts") != 1 {
		t.Fatalf("row %v", n.FieldsData())
	}
	// running again sends nothing
	deliver(t, app, rec, now.Add(time.Minute))
	if len(rec.Sent) != 2 {
		t.Fatalf("second run sent %d more", len(rec.Sent)-2)
	}
}

func TestDeliverOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		setup     func(t *testing.T, app *tests.TestApp)
		fields    map[string]any
		fail      func(token string) error
		sender    bool
		status    string
		mention   string
		sentTo    []string
		tokenGone string
	}{
		{"customer opted out: cancelled", func(t *testing.T, app *tests.TestApp) {
			c, _ := app.FindRecordById("contacts", testapp.ContactA)
			c.Set("care_opt_in", false)
			_ = app.Save(c)
		}, map[string]any{"audience": "customer", "contact": testapp.ContactA}, nil, true, "cancelled", "opted out", nil, ""},
		{"no device: skipped", nil, map[string]any{"audience": "customer", "contact": testapp.ContactB}, nil, true, "skipped", "no registered device", nil, ""},
		{"outbox-only mode: skipped", nil, map[string]any{"audience": "rep", "user": testapp.UserRepA}, nil, false, "skipped", "push not configured", nil, ""},
		{"expired: skipped", nil, map[string]any{"audience": "rep", "user": testapp.UserRepA, "expires_at": now.Add(-time.Minute)}, nil, true, "skipped", "expired", nil, ""},
		{"unregistered token: removed, the other device still gets it", func(t *testing.T, app *tests.TestApp) {
			addDevice(t, app, "devices", testapp.UserRepA, "user", "fcm-dead")
		}, map[string]any{"audience": "rep", "user": testapp.UserRepA}, func(token string) error {
			if token == "fcm-dead" {
				return push.Errorf(push.BadToken, 0, "unregistered")
			}
			return nil
		}, true, "sent", "", []string{"fcm-token-a"}, "fcm-dead"},
		{"only a bad token: failed, token removed", nil, map[string]any{"audience": "customer", "contact": testapp.ContactA}, func(string) error {
			return push.Errorf(push.BadToken, 0, "invalid registration token")
		}, true, "failed", "no valid device token", nil, "fcm-contact-a"},
		{"bad payload: failed, token kept", nil, map[string]any{"audience": "customer", "contact": testapp.ContactA}, func(string) error {
			return push.Errorf(push.BadPayload, 0, "invalid android ttl")
		}, true, "failed", "invalid android ttl", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			if c.setup != nil {
				c.setup(t, app)
			}
			enqueue(t, app, "k", c.fields)
			rec := &push.Recorder{Fail: c.fail}
			var s push.Sender
			if c.sender {
				s = rec
			}
			deliver(t, app, s, now)
			n := row(t, app, "k")
			if n.GetString("status") != c.status || !strings.Contains(n.GetString("error"), c.mention) {
				t.Fatalf("row: %s %q, want %s mentioning %q", n.GetString("status"), n.GetString("error"), c.status, c.mention)
			}
			if got := rec.Tokens(); !slices.Equal(got, c.sentTo) {
				t.Fatalf("sent to %v, want %v", got, c.sentTo)
			}
			if c.tokenGone != "" {
				n1, _ := app.CountRecords("devices", dbx.HashExp{"token": c.tokenGone})
				n2, _ := app.CountRecords("contact_devices", dbx.HashExp{"token": c.tokenGone})
				if n1+n2 != 0 {
					t.Fatalf("token %s was not removed", c.tokenGone)
				}
			}
			if c.name == "bad payload: failed, token kept" {
				if n, _ := app.CountRecords("contact_devices", dbx.HashExp{"token": "fcm-contact-a"}); n != 1 {
					t.Fatal("a payload error removed the token")
				}
			}
		})
	}
}

func TestDeliverRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	enqueue(t, app, "k", map[string]any{"audience": "rep", "user": testapp.UserRepA})
	busy := true
	rec := &push.Recorder{Fail: func(string) error {
		if busy {
			return push.Errorf(push.Retry, 2*time.Minute, "429 quota exceeded")
		}
		return nil
	}}
	deliver(t, app, rec, now)
	n := row(t, app, "k")
	if n.GetString("status") != "pending" || n.GetInt("attempts") != 1 || n.GetDateTime("next_attempt_at").Time().Before(now.Add(2*time.Minute)) {
		t.Fatalf("after a 429: %v", n.FieldsData())
	}
	busy = false
	deliver(t, app, rec, now.Add(time.Minute)) // Retry-After not over yet
	if len(rec.Sent) != 0 {
		t.Fatal("retried before Retry-After")
	}
	deliver(t, app, rec, now.Add(10*time.Minute))
	if n := row(t, app, "k"); n.GetString("status") != "sent" || n.GetInt("attempts") != 2 || len(rec.Sent) != 1 {
		t.Fatalf("after the retry: %v, %d sent", n.FieldsData(), len(rec.Sent))
	}

	// capped attempts end in failed
	enqueue(t, app, "k2", map[string]any{"audience": "rep", "user": testapp.UserRepA})
	rec2 := &push.Recorder{Fail: func(string) error { return push.Errorf(push.Retry, 0, "503 unavailable") }}
	at := now
	for i := 0; i < push.MaxAttempts+2; i++ {
		at = at.Add(3 * time.Hour)
		deliver(t, app, rec2, at)
	}
	if n := row(t, app, "k2"); n.GetString("status") != "failed" || n.GetInt("attempts") != push.MaxAttempts || !strings.Contains(n.GetString("error"), "503") {
		t.Fatalf("after %d failures: %v", push.MaxAttempts, n.FieldsData())
	}
}

func TestInterruptedDeliveryIsNeverRepeated(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	// a run claimed this row and died before recording the outcome
	enqueue(t, app, "k", map[string]any{"audience": "rep", "user": testapp.UserRepA, "error": "sending", "attempts": 1, "next_attempt_at": now.Add(5 * time.Minute)})
	rec := &push.Recorder{}
	deliver(t, app, rec, now.Add(time.Minute)) // still leased: left alone
	if row(t, app, "k").GetString("status") != "pending" || len(rec.Sent) != 0 {
		t.Fatal("a leased row was touched")
	}
	deliver(t, app, rec, now.Add(10*time.Minute))
	if n := row(t, app, "k"); n.GetString("status") != "failed" || !strings.Contains(n.GetString("error"), "interrupted") || len(rec.Sent) != 0 {
		t.Fatalf("interrupted row: %v, sent %d", n.FieldsData(), len(rec.Sent))
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	mid := func() float64 { return 0.5 }
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: time.Hour, 20: time.Hour} {
		if got := push.Backoff(attempts, 0, mid); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
	if got := push.Backoff(1, 5*time.Minute, mid); got != 5*time.Minute {
		t.Errorf("Retry-After ignored: %v", got)
	}
	if lo, hi := push.Backoff(3, 0, func() float64 { return 0 }), push.Backoff(3, 0, func() float64 { return 1 }); lo >= hi || lo < 90*time.Second || hi > 150*time.Second {
		t.Errorf("jitter range %v..%v", lo, hi)
	}
}

// TestOverlappingRunsSendOnce runs several deliveries at once over the
// same outbox: every row goes out exactly once.
func TestOverlappingRunsSendOnce(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	for i := 0; i < 50; i++ {
		enqueue(t, app, "k"+string(rune('A'+i%26))+string(rune('a'+i/26)), map[string]any{"audience": "rep", "user": testapp.UserRepA})
	}
	rec := &push.Recorder{}
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		go func() {
			_, err := push.Deliver(context.Background(), app, rec, now, 100)
			errs <- err
		}()
	}
	for r := 0; r < 4; r++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, m := range rec.Sent {
		seen[m.CollapseKey]++
	}
	for key, n := range seen {
		if n != 1 {
			t.Fatalf("%s went out %d times", key, n)
		}
	}
	if len(seen) != 50 {
		t.Fatalf("%d of 50 rows went out", len(seen))
	}
}
