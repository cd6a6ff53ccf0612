// Package carestatus is what an admin reads about each contact's care in
// the dashboard: the care_status view (consent, channel, the next greeting
// and when, the last message and what became of it) and the table of
// celebrated days it reads.
package carestatus

import (
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
)

// CelebrationsTable lists, for each day, the MM-DD keys celebrated on it in
// each calendar (a 29 February birthday on 28 February of common years; a
// lunar 30th on the 29th of a short month; a leap month's days in the
// regular month): SQL, the care_status view above all, reads "the next day
// this birthday or campaign is celebrated" from it without knowing the
// lunar calendar.
const CelebrationsTable = "_rounds_celebrations"

// CelebrationsAhead is how far ahead the table reaches: every MM-DD of
// either calendar comes round within it.
const CelebrationsAhead = 420

// EnsureCelebrations fills the table from the day before now to
// CelebrationsAhead days after it, writing only the days missing (a day's
// worth once a day, the first time about 420 days).
func EnsureCelebrations(app core.App, now time.Time) error {
	from := care.DateOf(now.UTC().AddDate(0, 0, -1))
	to := care.DateOf(now.UTC().AddDate(0, 0, CelebrationsAhead))
	var have int
	if err := app.DB().NewQuery(`SELECT COUNT(DISTINCT day) FROM ` + CelebrationsTable + ` WHERE calendar = 'gregorian' AND day BETWEEN {:a} AND {:b}`).
		Bind(dbx.Params{"a": from.String(), "b": to.String()}).Row(&have); err != nil {
		return fmt.Errorf("celebrations: %w", err)
	}
	if have == CelebrationsAhead+2 {
		return nil
	}
	var rows []string
	params := dbx.Params{}
	for t := time.Date(from.Year, from.Month, from.Day, 12, 0, 0, 0, time.UTC); !to.Before(care.DateOf(t)); t = t.AddDate(0, 0, 1) {
		d := care.DateOf(t)
		for _, cal := range []string{care.Gregorian, care.Lunar} {
			for _, key := range care.CelebratedIn(cal, d) {
				n := len(params)
				params[fmt.Sprintf("p%d", n)], params[fmt.Sprintf("p%d", n+1)], params[fmt.Sprintf("p%d", n+2)] = d.String(), cal, key
				rows = append(rows, fmt.Sprintf("({:p%d}, {:p%d}, {:p%d})", n, n+1, n+2))
			}
		}
	}
	return app.RunInTransaction(func(tx core.App) error {
		for i := 0; i < len(rows); i += 300 {
			chunk := rows[i:min(i+300, len(rows))]
			if _, err := tx.DB().NewQuery(`INSERT OR IGNORE INTO ` + CelebrationsTable + ` (day, calendar, key) VALUES ` + strings.Join(chunk, ", ")).
				Bind(params).Execute(); err != nil {
				return fmt.Errorf("celebrations: %w", err)
			}
		}
		_, err := tx.DB().NewQuery(`DELETE FROM ` + CelebrationsTable + ` WHERE day < {:a}`).Bind(dbx.Params{"a": from.String()}).Execute()
		return err
	})
}

// ViewQuery is the care_status view: one row per contact. next_birthday and
// next_holiday are the next days (UTC) their birthday, in its calendar, and
// a campaign for their customer's tier, in the campaign's, are celebrated;
// last_message is the latest customer message decided for them, with its
// status and, when it was not sent, why.
const ViewQuery = `SELECT ct.id, ct.id AS contact, ct.customer, ct.name,
	TRIM(CASE WHEN ct.care_opt_in THEN 'opted in' WHEN ct.opted_out_at != '' THEN 'opted out' ELSE 'no consent' END) AS consent,
	ct.consent_at, ct.consent_method, ct.opted_out_at,
	TRIM(CASE WHEN ct.preferred_channel = '' THEN 'push' ELSE ct.preferred_channel END) AS channel,
	ct.email, ct.email_stopped_at, ct.language,
	TRIM(CASE WHEN ct.birthday = '' THEN '' ELSE ct.birthday || CASE WHEN ct.birthday_calendar = 'lunar' THEN ' (lunar)' ELSE '' END END) AS birthday,
	COALESCE((SELECT MIN(cel.day) FROM ` + CelebrationsTable + ` cel
		WHERE ct.birthday != '' AND cel.calendar = CASE WHEN ct.birthday_calendar = 'lunar' THEN 'lunar' ELSE 'gregorian' END
		AND cel.key = ct.birthday AND cel.day >= date('now')), '') AS next_birthday,
	COALESCE((SELECT cel.day || ' ' || cc.name FROM care_campaigns cc JOIN customers cu ON cu.id = ct.customer
		JOIN ` + CelebrationsTable + ` cel ON cel.calendar = CASE WHEN cc.calendar = 'lunar' THEN 'lunar' ELSE 'gregorian' END
			AND cel.key = cc.date AND cel.day >= date('now')
		WHERE cc.active AND (COALESCE(json_array_length(NULLIF(cc.tiers, '')), 0) = 0 OR EXISTS (SELECT 1 FROM json_each(cc.tiers) WHERE value = cu.tier))
		ORDER BY cel.day, cc.name LIMIT 1), '') AS next_holiday,
	COALESCE((SELECT n.kind || ': ' || n.status || CASE WHEN n.error != '' THEN ' (' || n.error || ')' ELSE '' END
		FROM notifications n WHERE n.contact = ct.id AND n.audience = 'customer' ORDER BY n.created DESC, n.id DESC LIMIT 1), '') AS last_message,
	COALESCE((SELECT MAX(n.created) FROM notifications n WHERE n.contact = ct.id AND n.audience = 'customer'), '') AS last_message_at
FROM contacts ct`
