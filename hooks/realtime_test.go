package hooks_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rounds/crm"
	"rounds/hooks"
	"rounds/policy"
)

// realtimeCollections are subscribed to with "<collection>/*".
var realtimeCollections = []string{crm.Users, crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Orders, crm.OrderLines, crm.Devices, crm.Notifications, crm.CareInvites}

// stream is one realtime connection (server-sent events) of an actor.
type stream struct {
	actor  actor
	cancel context.CancelFunc
	mu     sync.Mutex
	events map[string]bool // "collection/id"
	closed chan struct{}
	id     string // the stream's client id
	// why the server closed the stream (its last event), if it said
	closedFor string
}

func (s *stream) seen() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copySet(s.events)
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// subscribe opens a realtime stream as a and subscribes to every
// collection of realtimeCollections.
func subscribe(t *testing.T, base string, a actor) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/realtime", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{actor: a, cancel: cancel, events: map[string]bool{}, closed: make(chan struct{})}
	clientID := make(chan string, 1)
	go func() {
		defer close(s.closed)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data := strings.TrimSpace(strings.TrimPrefix(line, "data:"))
				if event == "PB_CONNECT" {
					var c struct{ ClientID string }
					_ = json.Unmarshal([]byte(data), &c)
					clientID <- c.ClientID
					continue
				}
				if event == hooks.StreamClosedEvent {
					var c struct{ Reason string }
					_ = json.Unmarshal([]byte(data), &c)
					s.mu.Lock()
					s.closedFor = c.Reason
					s.mu.Unlock()
					continue
				}
				var msg struct {
					Record struct {
						ID             string `json:"id"`
						CollectionName string `json:"collectionName"`
					} `json:"record"`
				}
				if json.Unmarshal([]byte(data), &msg) == nil && msg.Record.ID != "" {
					s.mu.Lock()
					s.events[msg.Record.CollectionName+"/"+msg.Record.ID] = true
					s.mu.Unlock()
				}
			}
		}
	}()
	var id string
	select {
	case id = <-clientID:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no PB_CONNECT", a.name)
	}
	s.id = id
	subs := make([]string, len(realtimeCollections))
	for i, c := range realtimeCollections {
		subs[i] = c + "/*"
	}
	body, _ := json.Marshal(map[string]any{"clientId": id, "subscriptions": subs})
	post, _ := http.NewRequest(http.MethodPost, base+"/api/realtime", bytes.NewReader(body))
	post.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		post.Header.Set("Authorization", a.token)
	}
	pres, err := http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	pres.Body.Close()
	// a deactivated user's token is refused (401); others subscribe
	if pres.StatusCode != http.StatusNoContent && !(pres.StatusCode == 401 && !a.policy.SignedIn()) {
		t.Fatalf("%s: subscribe: %d", a.name, pres.StatusCode)
	}
	return s
}

// TestRealtimeFollowsThePolicy opens a realtime stream for every actor of
// random organisations, changes every record of the subscribed collections
// as an admin, and requires that each actor hears of exactly the records the
// policy lets them read. Then it deactivates a user: their stream closes and
// hears nothing more.
func TestRealtimeFollowsThePolicy(t *testing.T) {
	t.Parallel()
	seeds := authzSeeds(t)
	if len(seeds) > 6 {
		seeds = seeds[:6] // each seed costs a few seconds of waiting for events
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			o := newOrg(t, seed)
			srv := httptest.NewServer(o.client.Handler())
			t.Cleanup(srv.Close)

			var streams []*stream
			for _, a := range o.actors {
				streams = append(streams, subscribe(t, srv.URL, a))
			}
			// touch every record: an update event for each
			want := map[*stream]map[string]bool{}
			for _, c := range realtimeCollections {
				for _, id := range o.ids(c) {
					r := o.record(t, c, id)
					if err := o.app.SaveNoValidate(r); err != nil {
						t.Fatal(err)
					}
					for _, s := range streams {
						if want[s] == nil {
							want[s] = map[string]bool{}
						}
						if s.actor.policy.Role != policy.Customer && policy.For(c).Reads(s.actor.policy, o.graph, id) {
							want[s][c+"/"+id] = true
						}
					}
				}
			}
			waitFor(func() bool {
				for _, s := range streams {
					if len(s.seen()) < len(want[s]) {
						return false
					}
				}
				return true
			}, 5*time.Second)
			time.Sleep(200 * time.Millisecond) // stragglers that should not come
			for _, s := range streams {
				got := s.seen()
				for k := range got {
					if !want[s][k] {
						t.Fatalf("seed %d: %s heard of %s, which they cannot read", o.seed, s.actor.name, k)
					}
				}
				for k := range want[s] {
					if !got[k] {
						t.Fatalf("seed %d: %s did not hear of %s (policy: readable)", o.seed, s.actor.name, k)
					}
				}
			}

			// deactivate a signed-in user with an open stream
			var victim *stream
			for _, s := range streams {
				if s.actor.policy.SignedIn() && len(want[s]) > 0 {
					victim = s
					break
				}
			}
			if victim == nil {
				return
			}
			u := o.record(t, crm.Users, victim.actor.policy.ID)
			u.Set("active", false)
			if err := o.app.Save(u); err != nil {
				t.Fatal(err)
			}
			select {
			case <-victim.closed:
			case <-time.After(5 * time.Second):
				t.Fatalf("seed %d: the stream of deactivated %s stays open", o.seed, victim.actor.name)
			}
			victim.mu.Lock()
			why := victim.closedFor
			victim.mu.Unlock()
			if why != "deactivated" {
				t.Fatalf("seed %d: the stream of deactivated %s closed without saying why (%q)", o.seed, victim.actor.name, why)
			}
			// a browser's EventSource reconnects by itself with the stream's
			// id: refused, which ends its retries
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/realtime", nil)
			req.Header.Set("Last-Event-ID", victim.id)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("seed %d: the reconnect of deactivated %s's stream: %d, want 401", o.seed, victim.actor.name, res.StatusCode)
			}
			before := len(victim.seen())
			var keys []string
			for k := range want[victim] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				c, id, _ := strings.Cut(k, "/")
				if err := o.app.SaveNoValidate(o.record(t, c, id)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond)
			if after := len(victim.seen()); after != before {
				t.Fatalf("seed %d: deactivated %s heard %d more events", o.seed, victim.actor.name, after-before)
			}
		})
	}
}

func waitFor(cond func() bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && !cond() {
		time.Sleep(20 * time.Millisecond)
	}
}
