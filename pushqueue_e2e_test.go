package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"rounds/seed"
)

// TestBusyServerTurnsPushesAway: with room for one waiting push
// (ROUNDS_PUSH_QUEUE=1), a burst of large pushes from many phones is
// partly answered 429 at once, with a Retry-After and a message; each
// phone that waits that long and sends the same push again gets it in,
// and in the end every record of every push is stored exactly once.
func TestBusyServerTurnsPushesAway(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "8", "--reps", "2")
	base, logs := startServer(t, ctx, dir, "ROUNDS_PUSH_QUEUE=1")
	a := api{t: t, base: base}
	token := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)
	var first struct {
		Changes struct {
			Customers struct{ Updated []struct{ ID string } } `json:"customers"`
		} `json:"changes"`
		Timestamp int64 `json:"timestamp"`
	}
	a.do("GET", "/api/sync/pull?schema_version=4&last_pulled_at=null", token, nil, &first)
	customer := first.Changes.Customers.Updated[0].ID

	const phones, perPush = 16, 1000
	bodies := make([][]byte, phones)
	for p := range bodies {
		var visits []map[string]any
		for i := range perPush {
			visits = append(visits, map[string]any{"id": fmt.Sprintf("busy%02dvisit%05d", p, i), "customer": customer, "purpose": "burst"})
		}
		bodies[p], _ = json.Marshal(map[string]any{"visits": map[string]any{"created": visits, "updated": []any{}, "deleted": []string{}}})
	}
	push := func(body []byte) (int, string, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/sync/push?last_pulled_at=%d", base, first.Timestamp), bytes.NewReader(body))
		req.Header.Set("Authorization", token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", ""
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Retry-After"), string(data)
	}

	var mu gosync.Mutex
	busy, retries := 0, 0
	var wg gosync.WaitGroup
	gate := make(chan struct{})
	for p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for try := 0; ; try++ {
				status, after, body := push(bodies[p])
				if status == 200 {
					return
				}
				if status != http.StatusTooManyRequests || try == 20 {
					t.Errorf("phone %d, try %d: %d %s", p, try, status, body)
					return
				}
				secs, err := strconv.Atoi(after)
				if err != nil || secs < 1 || !strings.Contains(body, "Nothing was changed") {
					t.Errorf("a 429 with Retry-After %q: %s", after, body)
					return
				}
				mu.Lock()
				busy++
				retries++
				mu.Unlock()
				time.Sleep(time.Duration(secs) * time.Second)
			}
		}()
	}
	close(gate)
	wg.Wait()
	if busy == 0 {
		t.Fatalf("no push of the burst was turned away with a queue of one\nserver log:\n%s", logs.String())
	}
	var stored struct{ TotalItems int }
	admin := signIn(t, base, "_superusers", demoAdmin, demoAdminPassword)
	a.do("GET", "/api/collections/visits/records?perPage=1&filter="+url.QueryEscape("purpose = 'burst'"), admin, nil, &stored)
	if stored.TotalItems != phones*perPush {
		t.Fatalf("%d visits stored, want %d: a push was lost or half-applied", stored.TotalItems, phones*perPush)
	}
	t.Logf("%d pushes turned away and sent again after Retry-After", retries)
}
