package fcm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"rounds/internal/fakefcm"
	"rounds/internal/testapp"
	"rounds/push"
	"rounds/push/fcm"
)

// BenchmarkDeliver10k delivers 10,000 outbox rows through the real SDK to
// the fake FCM on loopback, 2,000 rows per drain as the job does; it
// reports messages per second and the peak heap growth.
func BenchmarkDeliver10k(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		b.StopTimer()
		app := testapp.New(b)
		fake := fakefcm.Start()
		sender, err := fcm.New(context.Background(), fcm.Config{ProjectID: "demo", Endpoint: fake.URL + "/v1"})
		if err != nil {
			b.Fatal(err)
		}
		c, _ := app.FindCollectionByNameOrId("notifications")
		err = app.RunInTransaction(func(tx core.App) error {
			for i := 0; i < n; i++ {
				r := core.NewRecord(c)
				r.Load(map[string]any{"kind": "follow_up_due", "audience": "rep", "user": testapp.UserRepA, "status": "pending",
					"dedup_key": fmt.Sprint("bench:", i), "title": "Follow-up due", "body": "Call about the order"})
				if err := tx.SaveNoValidate(r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		peak := testapp.PeakHeapGrowth(func() {
			sent := 0
			for sent < n {
				st, err := push.Deliver(context.Background(), app, sender, testapp.Now, 2000)
				if err != nil {
					b.Fatal(err)
				}
				if st.Sent == 0 {
					b.Fatalf("stuck after %d: %+v", sent, st)
				}
				sent += st.Sent
			}
		})
		elapsed := time.Since(start)

		b.StopTimer()
		if got := len(fake.Delivered()); got != n {
			b.Fatalf("the fake received %d messages, want %d", got, n)
		}
		fake.Close()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MB")
		b.StartTimer()
	}
}
