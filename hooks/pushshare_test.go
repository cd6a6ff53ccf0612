package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rounds/internal/testapp"
)

// TestPushQueueSharesFairly: one rep keeps twelve heavy pushes in flight
// against a queue of three; another rep's eight small pushes, sent one after the
// other meanwhile, are all served (no 429), while the flooding rep is
// answered 429 with Retry-After and a message that says it is their share.
func TestPushQueueSharesFairly(t *testing.T) {
	t.Parallel()
	deps := testapp.Deps()
	deps.PushQueue = 3
	app := testapp.NewWith(t, deps)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	defer srv.Close()

	push := func(actor string, body []byte) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/sync/push?last_pulled_at=1", bytes.NewReader(body))
		req.Header.Set("Authorization", testapp.Token(t, actor))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(data)
	}
	visits := func(prefix string, n int, customer string) []byte {
		var vs []map[string]any
		for i := range n {
			vs = append(vs, map[string]any{"id": fmt.Sprintf("%s%06d", prefix, i), "customer": customer, "purpose": "flood", "notes": strings.Repeat("x", 200)})
		}
		b, _ := json.Marshal(map[string]any{"visits": map[string]any{"created": vs, "updated": []any{}, "deleted": []string{}}})
		return b
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	floodBy := map[int]int{}
	var ownMessage, retryAfter string
	for w := range 12 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				status, h, body := push(testapp.RepA, visits(fmt.Sprintf("fl%02d%03d", w, n%1000), 100, testapp.CustomerA))
				if status == http.StatusTooManyRequests {
					time.Sleep(10 * time.Millisecond) // straight back, not after Retry-After
				}
				mu.Lock()
				floodBy[status]++
				if status == http.StatusTooManyRequests && ownMessage == "" {
					ownMessage, retryAfter = body, h.Get("Retry-After")
				}
				mu.Unlock()
			}
		})
	}
	others := map[int]int{}
	for i := range 8 {
		status, _, body := push(testapp.RepB, visits(fmt.Sprintf("small%02d", i), 2, testapp.CustomerB))
		others[status]++
		if status != http.StatusOK {
			t.Errorf("rep B's push %d while rep A floods: %d %s", i, status, body)
		}
	}
	close(stop)
	wg.Wait()
	if floodBy[http.StatusOK] == 0 || floodBy[http.StatusTooManyRequests] == 0 {
		t.Fatalf("rep A's flood: %v, want some served and some 429", floodBy)
	}
	if s, err := strconv.Atoi(retryAfter); err != nil || s < 1 || !strings.Contains(ownMessage, "already have 2 pushes") || !strings.Contains(ownMessage, "Nothing was changed") {
		t.Fatalf("the flooding rep's 429: Retry-After %q, %s", retryAfter, ownMessage)
	}
	t.Logf("rep A: %v; rep B: %v", floodBy, others)
}
