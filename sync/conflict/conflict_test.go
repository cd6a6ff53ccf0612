package conflict_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"rounds/sync/conflict"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	later := base.Add(time.Minute)
	cases := []struct {
		name     string
		in       conflict.Field
		value    any
		res      string
		conflict bool
	}{
		{"identical values are never a conflict", conflict.Field{Client: "a", Server: "a", ServerChanged: true}, "a", "", false},
		{"identical numbers of different types", conflict.Field{Client: float64(3), Server: int64(3), ServerChanged: true}, int64(3), "", false},
		{"empty and null are the same", conflict.Field{Client: nil, Server: "", ServerChanged: true}, "", "", false},
		{"device edit, server untouched", conflict.Field{Client: "new", Server: "old"}, "new", conflict.TakeClient, false},
		{"server-owned never comes from a device", conflict.Field{ServerOwned: true, Client: 1.0, Server: 2.0}, 2.0, conflict.KeepServer, true},
		{"server-owned even when the server did not change it", conflict.Field{ServerOwned: true, Client: "rep-b", Server: "rep-a"}, "rep-a", conflict.KeepServer, true},
		{"notes keep both texts", conflict.Field{Note: true, Client: "gate code 42", Server: "ask for Anna", ServerChanged: true}, "ask for Anna\n---\ngate code 42", conflict.Merged, true},
		{"notes: an extension wins whole", conflict.Field{Note: true, Client: "ask for Anna. Closed Mondays", Server: "ask for Anna", ServerChanged: true}, "ask for Anna. Closed Mondays", conflict.Merged, true},
		{"latest edit wins: device later", conflict.Field{Client: "d", Server: "s", ServerChanged: true, ServerAt: base, DeviceAt: later}, "d", conflict.TakeClient, true},
		{"latest edit wins: server later", conflict.Field{Client: "d", Server: "s", ServerChanged: true, ServerAt: later, DeviceAt: base}, "s", conflict.KeepServer, true},
		{"latest edit wins: a tie goes to the server", conflict.Field{Client: "d", Server: "s", ServerChanged: true, ServerAt: base, DeviceAt: base}, "s", conflict.KeepServer, true},
		{"booleans", conflict.Field{Client: true, Server: false, ServerChanged: true, ServerAt: base, DeviceAt: later}, true, conflict.TakeClient, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := conflict.Resolve(c.in)
			if !conflict.Equal(got.Value, c.value) || got.Resolution != c.res || got.Conflict != c.conflict {
				t.Fatalf("Resolve = %+v, want value %v resolution %q conflict %v", got, c.value, c.res, c.conflict)
			}
			if got.Conflict && got.Rule == "" {
				t.Fatal("a conflict without a rule")
			}
		})
	}
}

func TestClampDeviceTime(t *testing.T) {
	t.Parallel()
	pull := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	now := pull.Add(4 * time.Hour)
	cases := []struct {
		name         string
		device, want time.Time
	}{
		{"inside the window", pull.Add(time.Hour), pull.Add(time.Hour)},
		{"clock behind: before the data existed", pull.Add(-48 * time.Hour), pull},
		{"clock ahead: in the future", now.Add(24 * time.Hour), now},
		{"no time at all", time.Time{}, pull},
	}
	for _, c := range cases {
		if got := conflict.ClampDeviceTime(c.device, pull, now); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMergeNotes(t *testing.T) {
	t.Parallel()
	cases := []struct{ server, client, want string }{
		{"", "new", "new"},
		{"old", "", "old"},
		{"same", "same", "same"},
		{"a", "b", "a\n---\nb"},
		{"a\n---\nb", "b", "a\n---\nb"}, // a retry of a merge adds nothing
	}
	for _, c := range cases {
		if got := conflict.MergeNotes(c.server, c.client); got != c.want {
			t.Errorf("MergeNotes(%q, %q) = %q, want %q", c.server, c.client, got, c.want)
		}
	}
}

// TestEqualAsDefined draws pairs of wire values from a seed and holds
// Equal to its definition: empty text and null are equal, numbers compare
// by value whatever their type, anything else by type and printed value.
func TestEqualAsDefined(t *testing.T) {
	t.Parallel()
	defined := func(a, b any) bool {
		empty := func(v any) bool { return v == nil || v == "" }
		num := func(v any) (float64, bool) {
			switch x := v.(type) {
			case float64:
				return x, true
			case int64:
				return float64(x), true
			case int:
				return float64(x), true
			}
			return 0, false
		}
		if empty(a) && empty(b) {
			return true
		}
		fa, an := num(a)
		fb, bn := num(b)
		if an && bn {
			return fa == fb
		}
		return fmt.Sprint(a) == fmt.Sprint(b) && fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
	}
	rng := rand.New(rand.NewPCG(26, 1))
	draw := func() any {
		switch rng.IntN(9) {
		case 0:
			return nil
		case 1:
			return ""
		case 2:
			return []string{"a", "b", "1", "true", "false", "<nil>", "3"}[rng.IntN(7)]
		case 3:
			return float64(rng.IntN(4))
		case 4:
			return int64(rng.IntN(4))
		case 5:
			return rng.IntN(4)
		case 6:
			return rng.IntN(2) == 0
		case 7:
			return []any{"a"}
		}
		return map[string]any{"a": 1.0}
	}
	for range 20000 {
		a, b := draw(), draw()
		if got, want := conflict.Equal(a, b), defined(a, b); got != want {
			t.Fatalf("Equal(%#v, %#v) = %v, want %v", a, b, got, want)
		}
		if conflict.Equal(a, b) != conflict.Equal(b, a) {
			t.Fatalf("Equal is not symmetric for %#v, %#v", a, b)
		}
	}
}
