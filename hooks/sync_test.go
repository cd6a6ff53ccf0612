package hooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"rounds/internal/testapp"
)

func TestSyncRecordsDeviceActivity(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	req := func(method, url string, body any) {
		res := client.DoWithHeaders(testapp.RepA, method, url, body, map[string]string{"X-Device-Id": "pixel-7-anna", "User-Agent": "RoundsApp/2.0"})
		if res.Status != 200 {
			t.Fatalf("%s %s: %d %s", method, url, res.Status, res.Body)
		}
	}
	req(http.MethodGet, "/api/sync/pull?last_pulled_at=null", nil)
	req(http.MethodPost, "/api/sync/push?last_pulled_at=1000000", M{})

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r, err := app.FindFirstRecordByFilter("sync_devices", "device_id = 'pixel-7-anna'", dbx.Params{})
		if err == nil {
			if r.GetString("user") != testapp.UserRepA || r.GetString("user_agent") != "RoundsApp/2.0" ||
				r.GetDateTime("last_pull_at").IsZero() || r.GetDateTime("last_push_at").IsZero() || r.GetDateTime("last_sync_at").IsZero() {
				t.Fatalf("device activity: %v", r.FieldsData())
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the device's sync was not recorded in sync_devices")
}

func TestDeviceIDMustBeSane(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	res := client.DoWithHeaders(testapp.RepA, http.MethodGet, "/api/sync/pull?last_pulled_at=null", nil, map[string]string{"X-Device-Id": string(long)})
	if res.Status != 400 {
		t.Fatalf("a 201-character device id: %d %s", res.Status, res.Body)
	}
}
