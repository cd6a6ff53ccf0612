package pb_migrations

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// rep_activity gains last_sync_at, the latest sync of any of the rep's
// phones (sync_devices, which stays admins only), so that a manager sees a
// rep whose phone went quiet; and its columns get their types (text and
// numbers: PocketBase reads a CAST in parentheses as JSON).
func init() {
	m.Register(func(app core.App) error {
		return setActivityQuery(app, activityQueryLastSync)
	}, func(app core.App) error {
		return setActivityQuery(app, activityQueryToDate)
	})
}

var activityQueryLastSync = replaced(unwrapCasts(activityQueryToDate), "AS a_customers_visited\n",
	"AS a_customers_visited,\n\tCAST(COALESCE((SELECT MAX(d.last_sync_at) FROM sync_devices d WHERE d.user = u.id), '') AS TEXT) AS last_sync_at\n")

// unwrapCasts turns "(CAST(x AS T)) AS name" into "CAST(x AS T) AS name",
// which PocketBase types as T.
func unwrapCasts(q string) string {
	var b strings.Builder
	for {
		i := strings.Index(q, "(CAST(")
		if i < 0 {
			b.WriteString(q)
			return b.String()
		}
		// the parenthesis that closes the one before CAST
		depth, end := 0, -1
		for j := i; j < len(q) && end < 0; j++ {
			switch q[j] {
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end < 0 || !strings.HasPrefix(q[end+1:], " AS ") {
			b.WriteString(q[:i+1])
			q = q[i+1:]
			continue
		}
		b.WriteString(q[:i])
		b.WriteString(q[i+1 : end])
		q = q[end+1:]
	}
}
