package loadtest_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/internal/testapp"
	"rounds/loadtest"
)

// TestRunAgainstTheServer: a short run against the test company through
// PocketBase's real router: every sync finishes, nothing is turned away,
// and the visits the pushes created are on the server.
func TestRunAgainstTheServer(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	t.Cleanup(srv.Close)
	emails := []string{"", "rep.a@rounds.test", "rep.b@rounds.test"}
	steps, err := loadtest.Run(context.Background(), loadtest.Options{
		URL: srv.URL, Reps: 2, Email: func(i int) string { return emails[i] }, Password: testapp.Password,
		Rates: []float64{10}, Step: time.Second, Changes: 6, Timeout: 10 * time.Second, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := steps[0]
	if s.Syncs < 5 || s.Errors != 0 || s.Busy != 0 || s.Push.Count != s.Syncs || s.Pull.Count != 2*s.Syncs {
		t.Fatalf("step: %+v", s)
	}
	created, err := app.CountRecords(crm.Visits, dbx.NewExp("purpose LIKE 'load test at%'"))
	if err != nil || created != int64(2*s.Syncs) { // 6 changes: a third new visits
		t.Fatalf("%d visits created by the load test, want %d (%v)", created, 2*s.Syncs, err)
	}
}

// TestRunStaysOnThisMachine: the load test refuses another host and bad
// settings before it sends anything.
func TestRunStaysOnThisMachine(t *testing.T) {
	t.Parallel()
	ok := loadtest.Options{URL: "http://127.0.0.1:1", Reps: 1, Email: func(int) string { return "rep@rounds.test" },
		Rates: []float64{1}, Step: time.Second, Changes: 1}
	for _, c := range []struct {
		name string
		edit func(*loadtest.Options)
		says string
	}{
		{"another host", func(o *loadtest.Options) { o.URL = "http://192.0.2.1:8090" }, "loopback"},
		{"no address", func(o *loadtest.Options) { o.URL = "rounds" }, "--url"},
		{"no reps", func(o *loadtest.Options) { o.Reps = 0 }, "--reps"},
		{"no rates", func(o *loadtest.Options) { o.Rates = nil }, "--rates"},
		{"a negative rate", func(o *loadtest.Options) { o.Rates = []float64{-1} }, "rate"},
		{"an hour a step", func(o *loadtest.Options) { o.Step = time.Hour }, "--step"},
		{"no changes", func(o *loadtest.Options) { o.Changes = 0 }, "--changes"},
		{"no logins", func(o *loadtest.Options) { o.Email = nil }, "logins"},
	} {
		o := ok
		c.edit(&o)
		_, err := loadtest.Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.says)
		}
	}
}

func TestKnee(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		s    loadtest.Step
		want bool
	}{
		{"steady", loadtest.Step{Rate: 100, Achieved: 99, Push: loadtest.Latency{P50: 4 * ms, P99: 19 * ms}}, false},
		{"a long tail, all served", loadtest.Step{Rate: 100, Achieved: 99, Push: loadtest.Latency{P50: 4 * ms, P99: 40 * ms}}, false},
		{"turned away", loadtest.Step{Rate: 100, Achieved: 99, Busy: 1, Push: loadtest.Latency{P50: 4 * ms, P99: 5 * ms}}, true},
		{"falling behind", loadtest.Step{Rate: 100, Achieved: 90, Push: loadtest.Latency{P50: 4 * ms, P99: 5 * ms}}, true},
		{"failing", loadtest.Step{Rate: 100, Achieved: 99, Errors: 1, Push: loadtest.Latency{P50: 4 * ms, P99: 5 * ms}}, true},
	} {
		if got := c.s.Knee(); got != c.want {
			t.Errorf("%s: Knee() = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAStopNamesTheServersReason: when the server refuses the load test's
// set-up, the error carries what the server said, not only its status (a
// 401 on a first pull once stopped a run with nothing to go on).
func TestAStopNamesTheServersReason(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	srv := httptest.NewServer(testapp.NewClient(t, app).Handler())
	t.Cleanup(srv.Close)
	run := func(password string) error {
		_, err := loadtest.Run(context.Background(), loadtest.Options{
			URL: srv.URL, Reps: 1, Email: func(int) string { return "rep.a@rounds.test" }, Password: password,
			Rates: []float64{1}, Step: time.Second, Changes: 3, Timeout: 10 * time.Second, Seed: 1,
		})
		return err
	}
	err := run(testapp.Password + "-wrong")
	if err == nil || !strings.Contains(err.Error(), "status 400: Failed to authenticate.") {
		t.Fatalf("a wrong password: %v, want the status and PocketBase's message", err)
	}
	// deactivated after signing in: the first pull is refused, and says why
	rep, err := app.FindAuthRecordByEmail(crm.Users, "rep.a@rounds.test")
	if err != nil {
		t.Fatal(err)
	}
	app.OnRecordAuthRequest(crm.Users).BindFunc(func(e *core.RecordAuthRequestEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		rep.Set("active", false)
		return e.App.Save(rep)
	})
	err = run(testapp.Password)
	if err == nil || !strings.Contains(err.Error(), "first pull of rep.a@rounds.test: status 401: This account is deactivated") {
		t.Fatalf("deactivated before the first pull: %v, want the status and the server's message", err)
	}
}
