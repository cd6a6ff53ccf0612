package hooks

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// TestTokenCacheKeepsWithinBounds: a remembered token is forgotten at its
// expiry or after tokenCacheTTL, whichever comes first; a lookup that began
// before a user changed is not kept; an expired token is not kept at all.
func TestTokenCacheKeepsWithinBounds(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	c := newTokenCache(func() time.Time { return now })
	user := core.NewRecord(core.NewAuthCollection("users"))
	user.Id = "user00000000001"

	// expiry before the TTL
	c.put("a", user, now.Add(30*time.Second).Unix(), c.gen())
	if c.get("a") == nil {
		t.Fatal("a token just kept is not remembered")
	}
	now = now.Add(30 * time.Second)
	if c.get("a") != nil {
		t.Error("a token is remembered past its expiry")
	}

	// the TTL before the expiry
	c.put("b", user, now.Add(24*time.Hour).Unix(), c.gen())
	now = now.Add(tokenCacheTTL - time.Second)
	if c.get("b") == nil {
		t.Error("a token is forgotten before the TTL")
	}
	now = now.Add(time.Second)
	if c.get("b") != nil {
		t.Error("a token is remembered past the TTL")
	}

	// expired already
	c.put("c", user, now.Add(-time.Second).Unix(), c.gen())
	if c.get("c") != nil {
		t.Error("an expired token was kept")
	}

	// a lookup that began before a change
	gen := c.gen()
	c.forget()
	c.put("d", user, now.Add(time.Hour).Unix(), gen)
	if c.get("d") != nil {
		t.Error("a user read before a change was kept")
	}

	// what get returns is a copy
	c.put("e", user, now.Add(time.Hour).Unix(), c.gen())
	c.get("e").Set("role", "manager")
	if got := c.get("e").GetString("role"); got != "" {
		t.Errorf("a request's change to its user reached the cache: role %q", got)
	}
}
