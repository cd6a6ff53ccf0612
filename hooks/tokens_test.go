package hooks_test

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
)

// TestRememberedTokensFollowTheirUser: a token the server has seen, and
// remembers, stops working the moment its user's password or token key
// changes or they are deactivated, and carries the user's new role at once; a user changed after
// their token was remembered is read afresh. The changes come in an order
// drawn from a seed, each after the token's user was remembered.
func TestRememberedTokensFollowTheirUser(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	pull := func(token string) int {
		t.Helper()
		return client.DoWithHeaders(testapp.Anon, http.MethodGet, "/api/sync/pull?last_pulled_at=null&schema_version=5", nil,
			map[string]string{"Authorization": token}).Status
	}
	rep := func() *core.Record {
		r, err := app.FindRecordById(crm.Users, testapp.UserRepA)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// fresh issues a token and has it remembered (two requests), answered want
	fresh := func(want int) string {
		t.Helper()
		token, err := rep().NewAuthToken()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if code := pull(token); code != want {
				t.Fatalf("a fresh token: %d, want %d", code, want)
			}
		}
		return token
	}
	changes := []struct {
		name   string
		change func(*core.Record)
		want   int // the old token's pull after the change
	}{
		{"new password", func(r *core.Record) { r.SetPassword("a-new-password-123") }, http.StatusUnauthorized},
		{"new token key", func(r *core.Record) { r.RefreshTokenKey() }, http.StatusUnauthorized},
		{"role made manager", func(r *core.Record) { r.Set("role", "manager") }, http.StatusForbidden},
		{"role back to rep", func(r *core.Record) { r.Set("role", "rep") }, http.StatusOK},
		{"deactivated", func(r *core.Record) { r.Set("active", false) }, http.StatusUnauthorized},
	}
	rng := rand.New(rand.NewPCG(26, 2))
	for round := range 3 {
		for _, i := range rng.Perm(len(changes)) {
			c := changes[i]
			r := rep()
			r.Set("role", "rep")
			r.Set("active", true)
			before := http.StatusOK
			if c.name == "role back to rep" {
				r.Set("role", "manager")
				before = http.StatusForbidden
			}
			if err := app.Save(r); err != nil {
				t.Fatal(err)
			}
			token := fresh(before)
			r = rep()
			c.change(r)
			if err := app.Save(r); err != nil {
				t.Fatal(err)
			}
			if got := pull(token); got != c.want {
				t.Errorf("round %d, %s: the remembered token's pull answered %d, want %d", round, c.name, got, c.want)
			}
		}
	}
}

// TestATokenCheckThatCannotReadItsUserIsNotASignOut: when the server cannot
// read the user a token names (here its table is away), it answers 503, to
// be tried again, not 401, which tells a phone its rep is signed out; a bad
// token is still a 401, and the same good token works once the user can be
// read again.
func TestATokenCheckThatCannotReadItsUserIsNotASignOut(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	pull := func(token string) testapp.Response {
		t.Helper()
		return client.DoWithHeaders(testapp.Anon, http.MethodGet, "/api/sync/pull?last_pulled_at=null&schema_version=5", nil,
			map[string]string{"Authorization": token})
	}
	rep, err := app.FindRecordById(crm.Users, testapp.UserRepA)
	if err != nil {
		t.Fatal(err)
	}
	token, err := rep.NewAuthToken() // never used: not remembered
	if err != nil {
		t.Fatal(err)
	}
	forged := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[token[len(token)-2:] != "AA"]
	if res := pull(forged); res.Status != http.StatusUnauthorized {
		t.Fatalf("a forged token: %d %s, want 401", res.Status, res.Body)
	}
	move := func(from, to string) {
		t.Helper()
		if _, err := app.NonconcurrentDB().NewQuery("ALTER TABLE " + from + " RENAME TO " + to).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	move("users", "users_away")
	for _, tok := range []string{token, forged} {
		if res := pull(tok); res.Status != http.StatusServiceUnavailable || !strings.Contains(res.Body, "try again") {
			t.Errorf("users unreadable: %d %s, want 503 asking to try again", res.Status, res.Body)
		}
	}
	move("users_away", "users")
	if res := pull(token); res.Status != http.StatusOK {
		t.Fatalf("users readable again: %d %s", res.Status, res.Body)
	}
	if res := pull(forged); res.Status != http.StatusUnauthorized {
		t.Fatalf("a forged token, users readable again: %d, want 401", res.Status)
	}
}
