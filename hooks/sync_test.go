package hooks_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/hooks"
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
	req(http.MethodGet, "/api/sync/pull?schema_version=4&last_pulled_at=null", nil)
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

// TestStuckDevicesAreShown: a device whose pushes keep being refused is
// marked (refused, stuck_since, kept from the first such push); a push
// with no refusal clears it.
func TestStuckDevicesAreShown(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64 // minutes after testapp.Now; each push a minute later
	deps := testapp.Deps()
	deps.Now = func() time.Time { return testapp.Now.Add(time.Duration(clock.Load()) * time.Minute) }
	app := testapp.NewWith(t, deps)
	client := testapp.NewClient(t, app)
	push := func(body M) {
		clock.Add(1)
		res := client.DoWithHeaders(testapp.RepA, http.MethodPost, "/api/sync/push?last_pulled_at=1000000", body, map[string]string{"X-Device-Id": "stuck-phone"})
		if res.Status != 200 {
			t.Fatalf("push: %d %s", res.Status, res.Body)
		}
	}
	// device waits for the flush of push number n and returns what it set
	device := func(n int64) (refused int, since time.Time) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			r, err := app.FindFirstRecordByFilter("sync_devices", "device_id = 'stuck-phone'", dbx.Params{})
			if err == nil && r.GetDateTime("last_push_at").Time().Equal(testapp.Now.Add(time.Duration(n)*time.Minute)) {
				return r.GetInt("refused"), r.GetDateTime("stuck_since").Time()
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("push %d was not recorded in sync_devices", n)
		return 0, time.Time{}
	}
	// a line on a submitted order: refused at every push
	refusedLine := M{"order_lines": M{"updated": []M{}, "deleted": []string{}, "created": []M{{
		"id": "stucklinestuck1", "order": testapp.OrderASubmitted, "product": testapp.ProductCoffee, "quantity": 1, "_status": "created", "_changed": "",
	}}}}
	push(refusedLine)
	if n, since := device(1); n != 1 || !since.Equal(testapp.Now.Add(time.Minute)) {
		t.Fatalf("after a refused push: refused %d, stuck since %v", n, since)
	}
	push(refusedLine)
	if n, since := device(2); n != 1 || !since.Equal(testapp.Now.Add(time.Minute)) {
		t.Fatalf("refused again: refused %d, stuck since %v (want the first refusal's time)", n, since)
	}
	// stuck_devices lists it, with the reason, to an admin (only)
	stuck := func(actor string) []map[string]any {
		res := client.Do(actor, http.MethodGet, "/api/collections/stuck_devices/records", nil)
		var page struct{ Items []map[string]any }
		if res.Status != 200 || json.Unmarshal([]byte(res.Body), &page) != nil {
			t.Fatalf("%s lists stuck_devices: %d %s", actor, res.Status, res.Body)
		}
		return page.Items
	}
	rows := stuck(testapp.Admin)
	if len(rows) != 1 || rows[0]["device"] != "stuck-phone" || rows[0]["rep"] != testapp.UserRepA || rows[0]["refused"] != 1.0 ||
		!strings.HasPrefix(fmt.Sprint(rows[0]["latest_reason"]), "order_lines stucklinestuck1: ") {
		t.Fatalf("stuck_devices %v", rows)
	}
	for _, actor := range []string{testapp.RepA, testapp.ManagerA, testapp.Anon} {
		if res := client.Do(actor, http.MethodGet, "/api/collections/stuck_devices/records", nil); res.Status != 403 && (res.Status != 200 || strings.Contains(res.Body, "stuck-phone")) {
			t.Fatalf("%s lists stuck_devices: %d %s", actor, res.Status, res.Body)
		}
	}
	push(M{})
	if n, since := device(3); n != 0 || !since.IsZero() {
		t.Fatalf("after a clean push: refused %d, stuck since %v", n, since)
	}
	if rows := stuck(testapp.Admin); len(rows) != 0 {
		t.Fatalf("after a clean push stuck_devices still lists %v", rows)
	}
}

// TestStuckDevicesViewMatchesAHandBuiltList: devices stuck or not, with
// refusals and other conflicts of their own and of other devices, drawn
// from a seed; stuck_devices holds exactly the stuck ones, each with its
// latest refusal's reason, computed here without SQL.
func TestStuckDevicesViewMatchesAHandBuiltList(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	conflicts, _ := app.FindCollectionByNameOrId("sync_conflicts")
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 15))
		if _, err := app.DB().NewQuery("DELETE FROM sync_devices").Execute(); err != nil {
			t.Fatal(err)
		}
		if _, err := app.DB().NewQuery("DELETE FROM sync_conflicts").Execute(); err != nil {
			t.Fatal(err)
		}
		type row struct {
			rep, device, since, reason string
			refused                    int
		}
		var want []row
		at := func() string {
			return testapp.Now.Add(-time.Duration(rng.IntN(5000)) * time.Minute).Format("2006-01-02 15:04:05.000Z")
		}
		for i := range rng.IntN(12) {
			rep := []string{testapp.UserRepA, testapp.UserRepB, testapp.UserRepX}[rng.IntN(3)]
			device := fmt.Sprintf("phone-%d-%d", seed, i)
			since, refused := "", 0
			if rng.IntN(2) == 0 {
				since, refused = at(), 1+rng.IntN(40)
			}
			if _, err := app.DB().NewQuery(`INSERT INTO sync_devices (id, user, device_id, user_agent, last_pull_at, last_push_at, last_sync_at, refused, stuck_since, created, updated)
				VALUES ({:id}, {:u}, {:d}, 'RoundsApp/3', '', '', '', {:n}, {:s}, '', '')`).
				Bind(dbx.Params{"id": fmt.Sprintf("stuckdev%02d%05d", seed, i), "u": rep, "d": device, "n": refused, "s": since}).Execute(); err != nil {
				t.Fatal(err)
			}
			latest, reason := "", ""
			for j := range rng.IntN(5) {
				r := core.NewRecord(conflicts)
				seen := at()
				res := []string{"rejected", "rejected", "server"}[rng.IntN(3)]
				who, dev := rep, device
				switch rng.IntN(5) {
				case 0:
					dev = "another-phone" // the same rep's other device
				case 1:
					who = testapp.UserRepB // another rep's device of the same name
				}
				rule := fmt.Sprintf("reason %d-%d", i, j)
				r.Load(map[string]any{"collection": "visits", "record_id": fmt.Sprintf("rec%d", j), "resolution": res, "rule": rule,
					"user": who, "device": dev, "count": 1, "last_seen_at": seen})
				if err := app.Save(r); err != nil {
					t.Fatal(err)
				}
				if res == "rejected" && who == rep && dev == device && seen > latest {
					latest, reason = seen, fmt.Sprintf("visits rec%d: %s", j, rule)
				}
			}
			if since != "" {
				want = append(want, row{rep, device, since, reason, refused})
			}
		}
		res := client.Do(testapp.Admin, http.MethodGet, "/api/collections/stuck_devices/records?perPage=100", nil)
		var page struct{ Items []map[string]any }
		if res.Status != 200 || json.Unmarshal([]byte(res.Body), &page) != nil {
			t.Fatalf("seed %d: %d %s", seed, res.Status, res.Body)
		}
		got := map[string]row{}
		for _, it := range page.Items {
			got[fmt.Sprint(it["device"])] = row{fmt.Sprint(it["rep"]), fmt.Sprint(it["device"]), fmt.Sprint(it["stuck_since"]), fmt.Sprint(it["latest_reason"]), int(it["refused"].(float64))}
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: stuck_devices lists %d devices, want %d: %v", seed, len(got), len(want), page.Items)
		}
		for _, w := range want {
			if got[w.device] != w {
				t.Fatalf("seed %d: %s: got %+v, want %+v", seed, w.device, got[w.device], w)
			}
		}
	}
}

func TestDeviceIDMustBeSane(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	res := client.DoWithHeaders(testapp.RepA, http.MethodGet, "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, map[string]string{"X-Device-Id": string(long)})
	if res.Status != 400 {
		t.Fatalf("a 201-character device id: %d %s", res.Status, res.Body)
	}
}

// TestOversizedPushIsAnswered sends pushes larger than the limit over a
// real loopback connection, with and without a Content-Length, as a client
// that sends its whole body before it reads the answer (as phones' HTTP
// stacks do): it must read a 413 that names the limit, not a reset.
func TestOversizedPushIsAnswered(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	t.Cleanup(srv.Close)
	body := bytes.Repeat([]byte(" "), 20<<20) // 20 MB of whitespace
	for _, chunked := range []bool{false, true} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		w := bufio.NewWriter(conn)
		fmt.Fprintf(w, "POST /api/sync/push?last_pulled_at=1000000 HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\n",
			srv.Listener.Addr(), testapp.Token(t, testapp.RepA))
		if chunked {
			fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
			for off := 0; off < len(body); off += 1 << 20 {
				fmt.Fprintf(w, "%x\r\n%s\r\n", 1<<20, body[off:off+1<<20])
			}
			fmt.Fprintf(w, "0\r\n\r\n")
		} else {
			fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body))
			_, _ = w.Write(body)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("chunked=%v: sending the push failed (%v): the server closed the connection before answering", chunked, err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("chunked=%v: no answer: %v", chunked, err)
		}
		answer, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(answer), "at most 16 MB") {
			t.Fatalf("chunked=%v: %d %s", chunked, res.StatusCode, answer)
		}
	}
}

// TestCompressedSync: a pull is gzip-compressed when the phone accepts it
// (and says the same as uncompressed); a push may come gzip-compressed, and
// its limit holds after decompression; a corrupt or unknown encoding is a
// 4xx that says so.
func TestCompressedSync(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	do := func(method, path string, body []byte, headers map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", testapp.Token(t, testapp.RepA))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res, data
	}
	gz := func(data []byte) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		return b.Bytes()
	}

	plainRes, plain := do("GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, nil)
	zipRes, zipped := do("GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", nil, map[string]string{"Accept-Encoding": "gzip"})
	if plainRes.Header.Get("Content-Encoding") != "" || zipRes.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("encodings: plain %q, asked for gzip %q", plainRes.Header.Get("Content-Encoding"), zipRes.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Fatalf("the gzip pull differs from the plain one (%d and %d bytes)", len(unzipped), len(plain))
	}

	var pulled struct{ Timestamp int64 }
	_ = json.Unmarshal(plain, &pulled)
	push := fmt.Sprintf("/api/sync/push?last_pulled_at=%d", pulled.Timestamp)
	body := []byte(`{"visits":{"created":[{"id":"gzippedvisit001","customer":"` + testapp.CustomerA + `","purpose":"zipped","_status":"created","_changed":""}],"updated":[],"deleted":[]}}`)
	if res, data := do("POST", push, gz(body), map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}); res.StatusCode != 200 {
		t.Fatalf("gzip push: %d %s", res.StatusCode, data)
	}
	if _, err := app.FindRecordById("visits", "gzippedvisit001"); err != nil {
		t.Fatal("the gzip push did not apply")
	}
	// 40 MB of JSON whitespace inflate from a few dozen KB: refused, as too large once decompressed
	bomb := gz(append(append([]byte(`{"visits":{"created":[],"updated":[],"deleted":[]}`), bytes.Repeat([]byte(" "), 40<<20)...), '}'))
	if res, data := do("POST", push, bomb, map[string]string{"Content-Encoding": "gzip"}); res.StatusCode != 413 || !strings.Contains(string(data), "decompressed") {
		t.Fatalf("a %d KB gzip bomb: %d %s", len(bomb)>>10, res.StatusCode, data)
	}
	if res, data := do("POST", push, []byte("not gzip at all"), map[string]string{"Content-Encoding": "gzip"}); res.StatusCode != 400 || !strings.Contains(string(data), "gzip") {
		t.Fatalf("corrupt gzip: %d %s", res.StatusCode, data)
	}
	if res, data := do("POST", push, body, map[string]string{"Content-Encoding": "br"}); res.StatusCode != 415 || !strings.Contains(string(data), "br") {
		t.Fatalf("an unknown encoding: %d %s", res.StatusCode, data)
	}
}

// TestDeviceLogFlushKeepsItsRules drives the device log with random
// sequences of pulls and pushes (times that go back as well as forward,
// refusals, flushes at random points, a user that does not exist) and
// compares sync_devices after every flush with a model of its rules: the
// latest pull and push noted are written, last_sync_at never goes back,
// refused is the last push's, stuck_since the first push of an unbroken
// run with refusals, and an unknown user gets no row.
func TestDeviceLogFlushKeepsItsRules(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	log := hooks.NewDeviceLog(app)
	type row struct {
		pull, push, sync, stuck time.Time
		refused                 int
	}
	type key struct{ user, device string }
	model := map[key]row{}
	users := []string{testapp.UserRepA, testapp.UserRepB, "nosuchuser00001"}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0xde71ce))
		pending := map[key]row{} // the batch as the log collapses it: last pull, last push
		pendingPush := map[key]bool{}
		for step := 0; step < 60; step++ {
			k := key{users[rng.IntN(len(users))], fmt.Sprintf("device-%d-%d", seed, rng.IntN(3))}
			at := testapp.Now.Add(time.Duration(rng.IntN(100_000)) * time.Millisecond)
			p := pending[k]
			if rng.IntN(2) == 0 {
				log.Note(k.user, k.device, at, -1)
				p.pull = at
			} else {
				refused := max(0, rng.IntN(4)-1)
				log.Note(k.user, k.device, at, refused)
				p.push, p.refused, pendingPush[k] = at, refused, true
			}
			pending[k] = p
			if rng.IntN(8) != 0 {
				continue
			}
			log.Flush()
			for k, p := range pending {
				if k.user == users[2] {
					continue
				}
				m := model[k]
				if !p.pull.IsZero() {
					m.pull = p.pull
				}
				for _, at := range []time.Time{p.pull, p.push} {
					if at.After(m.sync) {
						m.sync = at
					}
				}
				if pendingPush[k] {
					m.push, m.refused = p.push, p.refused
					switch {
					case p.refused == 0:
						m.stuck = time.Time{}
					case m.stuck.IsZero():
						m.stuck = p.push
					}
				}
				model[k] = m
			}
			pending, pendingPush = map[key]row{}, map[key]bool{}
			rows, err := app.FindRecordsByFilter("sync_devices", "device_id ~ {:prefix}", "", 0, 0, dbx.Params{"prefix": fmt.Sprintf("device-%d-%%", seed)})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for k := range model {
				if strings.HasPrefix(k.device, fmt.Sprintf("device-%d-", seed)) {
					want++
				}
			}
			if len(rows) != want {
				t.Fatalf("seed %d step %d: %d rows for this seed's devices, want %d", seed, step, len(rows), want)
			}
			for _, r := range rows {
				k := key{r.GetString("user"), r.GetString("device_id")}
				m, ok := model[k]
				got := row{r.GetDateTime("last_pull_at").Time(), r.GetDateTime("last_push_at").Time(), r.GetDateTime("last_sync_at").Time(),
					r.GetDateTime("stuck_since").Time(), r.GetInt("refused")}
				if !ok || !got.pull.Equal(m.pull) || !got.push.Equal(m.push) || !got.sync.Equal(m.sync) || !got.stuck.Equal(m.stuck) || got.refused != m.refused {
					t.Fatalf("seed %d step %d: %v\n got  %+v\n want %+v", seed, step, k, got, m)
				}
			}
		}
	}
}
