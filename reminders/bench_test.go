package reminders_test

import (
	"testing"
	"time"

	"rounds/care"
	"rounds/internal/testapp"
	"rounds/reminders"
	"rounds/seed"
)

// BenchmarkDueBirthdays selects the contacts whose birthday is due at one
// instant (every local date on Earth at that moment) among about a million
// contacts, through the birthday index; the baseline is the same selection
// scanning the contacts table, in the same run.
func BenchmarkDueBirthdays(b *testing.B) {
	o := seed.DefaultOptions()
	o.Today = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	o.Reps, o.Managers, o.Customers = 100, 5, 333_334
	o.VisitsPerCustomer, o.FollowUpsPerCustomer, o.OrdersPerCustomer = 0, 0, 0
	app := testapp.Seeded(b, o)
	contacts, _ := app.CountRecords("contacts")
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	b.Run("indexed", func(b *testing.B) {
		var due int
		for b.Loop() {
			due = 0
			for _, day := range care.DatesAround(now) {
				rows, err := reminders.SelectBirthdays(app, day)
				if err != nil {
					b.Fatal(err)
				}
				due += len(rows)
			}
		}
		b.ReportMetric(float64(contacts), "contacts")
		b.ReportMetric(float64(due), "due")
	})
	b.Run("scan-baseline", func(b *testing.B) {
		for b.Loop() {
			for _, day := range care.DatesAround(now) {
				var n int
				err := app.DB().NewQuery(`SELECT COUNT(*) FROM contacts ct NOT INDEXED JOIN customers c ON c.id = ct.customer
					WHERE ct.care_opt_in = TRUE AND substr(ct.birthday, 1, 5) IN ({:a}, {:b})`).
					Bind(map[string]any{"a": day.MMDD(), "b": care.CelebratedOn(day)[len(care.CelebratedOn(day))-1]}).Row(&n)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
