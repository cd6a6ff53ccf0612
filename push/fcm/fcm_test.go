package fcm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"rounds/internal/fakefcm"
	"rounds/push"
	"rounds/push/fcm"
)

// The real Firebase SDK against a fake FCM on loopback.
func TestRealSDKAgainstFakeFCM(t *testing.T) {
	t.Parallel()
	fake := fakefcm.Start()
	defer fake.Close()
	sender, err := fcm.New(context.Background(), fcm.Config{ProjectID: "demo", Endpoint: fake.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(2 * time.Hour)
	msgs := []push.Message{
		{Token: "ok-1", Title: "Happy birthday", Body: "All the best", Data: map[string]string{"preferences_url": "https://x/p"}, CollapseKey: "birthday:c1:2026-03-02", ExpiresAt: expires},
		{Token: "unregistered-1", Title: "t"},
		{Token: "invalid-1", Title: "t"},
		{Token: "payload-1", Title: "t"},
		{Token: "quota-1", Title: "t"},
		{Token: "flaky-1", Title: "t"},
	}
	res, err := sender.Send(context.Background(), msgs)
	if err != nil || len(res) != len(msgs) {
		t.Fatalf("Send: %v, %d results", err, len(res))
	}
	want := []struct {
		ok         bool
		class      push.Class
		retryAfter time.Duration
	}{
		{ok: true},
		{class: push.BadToken},
		{class: push.BadToken},
		{class: push.BadPayload},
		{class: push.Retry, retryAfter: 7 * time.Second},
		{ok: true}, // the SDK retries a 503 itself
	}
	for i, w := range want {
		r := res[i]
		if w.ok {
			if r.Err != nil || !strings.HasPrefix(r.MessageID, "projects/demo/messages/") {
				t.Errorf("%s: %+v, want success", msgs[i].Token, r)
			}
			continue
		}
		class, after := push.ClassOf(r.Err)
		if r.Err == nil || class != w.class || after != w.retryAfter {
			t.Errorf("%s: %v (class %v, retry after %v), want class %v after %v", msgs[i].Token, r.Err, class, after, w.class, w.retryAfter)
		}
	}
	if fake.Attempts("flaky-1") != 2 {
		t.Errorf("flaky token tried %d times, want 2 (503 then success)", fake.Attempts("flaky-1"))
	}
	var got fakefcm.Message
	for _, m := range fake.Delivered() { // SendEach sends concurrently: any order
		if m.Token == "ok-1" {
			got = m
		}
	}
	if got.Token != "ok-1" || got.Notification["title"] != "Happy birthday" || got.Data["preferences_url"] != "https://x/p" ||
		got.Android.CollapseKey != "birthday:c1:2026-03-02" || got.APNS.Headers["apns-collapse-id"] != "birthday:c1:2026-03-02" ||
		got.APNS.Headers["apns-expiration"] == "" || !strings.HasSuffix(got.Android.TTL, "s") {
		t.Fatalf("FCM received %+v", got)
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if _, ok := fcm.FromEnv(get); ok {
		t.Fatal("no variables set, yet configured")
	}
	env["FCM_ENDPOINT"] = "http://127.0.0.1:1/v1"
	cfg, ok := fcm.FromEnv(get)
	if !ok {
		t.Fatal("FCM_ENDPOINT alone is a configuration")
	}
	if _, err := fcm.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "FCM_PROJECT_ID") {
		t.Fatalf("missing project id: %v", err)
	}
}
