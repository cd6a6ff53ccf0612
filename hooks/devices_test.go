package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"rounds/internal/testapp"
)

func TestDeviceRegistration(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	owner := func(token string) string {
		r, err := app.FindFirstRecordByFilter("devices", "token = {:t}", dbx.Params{"t": token})
		if err != nil {
			return ""
		}
		return r.GetString("user")
	}

	res := client.Do(testapp.RepA, http.MethodPost, "/api/devices", M{"token": "fcm-new-phone", "platform": "android", "app_version": "2.1.0"})
	if res.Status != 200 || owner("fcm-new-phone") != testapp.UserRepA {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	// refreshing the same token is idempotent
	res = client.Do(testapp.RepA, http.MethodPost, "/api/devices", M{"token": "fcm-new-phone", "platform": "android", "app_version": "2.2.0"})
	if n, _ := app.CountRecords("devices", dbx.HashExp{"token": "fcm-new-phone"}); res.Status != 200 || n != 1 {
		t.Fatalf("refresh: %d %s (%d rows)", res.Status, res.Body, n)
	}
	// the phone changes hands: the token moves to rep B
	res = client.Do(testapp.RepB, http.MethodPost, "/api/devices", M{"token": "fcm-new-phone", "platform": "android"})
	if res.Status != 200 || owner("fcm-new-phone") != testapp.UserRepB {
		t.Fatalf("move: %d %s, owner %s", res.Status, res.Body, owner("fcm-new-phone"))
	}
	// rep A can no longer remove it; rep B can
	if res := client.Do(testapp.RepA, http.MethodDelete, "/api/devices/fcm-new-phone", nil); res.Status != 404 {
		t.Fatalf("delete by the old owner: %d %s", res.Status, res.Body)
	}
	if res := client.Do(testapp.RepB, http.MethodDelete, "/api/devices/fcm-new-phone", nil); res.Status != 204 || owner("fcm-new-phone") != "" {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}

	for _, c := range []struct {
		actor   string
		body    any
		status  int
		mention string
	}{
		{testapp.Anon, M{"token": "x"}, 401, ""},
		{testapp.RepA, M{"platform": "ios"}, 400, "token is required"},
		{testapp.RepA, M{"token": "x", "platform": "blackberry"}, 400, "platform"},
		{testapp.RepA, M{"token": strings.Repeat("x", 5000)}, 400, "4096"},
		{testapp.RepA, `{"token": `, 400, "JSON"},
	} {
		res := client.Do(c.actor, http.MethodPost, "/api/devices", c.body)
		if res.Status != c.status || !strings.Contains(res.Body, c.mention) {
			t.Errorf("%v: %d %s, want %d mentioning %q", c.body, res.Status, res.Body, c.status, c.mention)
		}
	}
}
