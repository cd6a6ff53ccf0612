package hooks

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
	"rounds/reminders"
)

// registerReminders adds the `reminders` cron job (every minute; superusers
// can run it at once with POST /api/crons/reminders).
func registerReminders(app core.App, deps Deps, signers *signerFor) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if deps.Sender == nil {
			const notice = "Push is not configured (FCM_PROJECT_ID, FCM_CREDENTIALS, FCM_ENDPOINT): outbox-only mode, notifications are recorded as skipped"
			app.Logger().Info(notice)
			if se.Server != nil { // a real server (not a test's router): say it on the console too
				fmt.Fprintln(os.Stderr, notice)
			}
		}
		return se.Next()
	})
	app.Cron().MustAdd("reminders", "* * * * *", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
		defer cancel()
		if _, err := runReminders(ctx, app, deps, signers); err != nil {
			app.Logger().Error("reminders job failed", "error", err)
		}
	})
}

// runReminders runs the reminders job once at deps.Now().
func runReminders(ctx context.Context, app core.App, deps Deps, signers *signerFor) (reminders.Stats, error) {
	deps = deps.withDefaults()
	signer, err := signers.get(app, deps)
	if err != nil {
		return reminders.Stats{}, err
	}
	return reminders.Run(ctx, app, deps.Now(), reminders.Config{
		DefaultZone: deps.DefaultZone,
		Sender:      deps.Sender,
		PreferencesURL: func(contact string) (string, error) {
			token, _, err := signer.Issue(contact, care.ScopeManage, care.PreferencesTTL)
			return linkURL(app, "/care/preferences", token), err
		},
		UnsubscribeURL: func(contact string) (string, error) {
			token, _, err := signer.Issue(contact, care.ScopeManage, care.PreferencesTTL)
			return linkURL(app, "/care/unsubscribe", token), err
		},
	})
}
