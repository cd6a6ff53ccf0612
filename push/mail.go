package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/mailer"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// MailNotConfigured is the reason an e-mail is skipped while the
// dashboard's SMTP settings are off.
const MailNotConfigured = "mail not configured (set SMTP in the dashboard's settings)"

// Why an e-mail cannot go to a contact (the reminders job says the same
// when it decides a greeting).
const (
	ReasonNoEmail = "no e-mail address"
	ReasonStopped = "mail to this address was stopped after the mail server refused it for good"
)

// deliverMail sends the e-mail rows of the outbox through PocketBase's
// mailer (the dashboard's SMTP settings), one message per row: claimed
// first as pushes are, retried with the same back-off on a temporary
// failure, and on a permanent one (a 5xx answer) failed, with the
// contact's address stopped so that no more mail goes to it.
func deliverMail(ctx context.Context, app core.App, now time.Time, at string, rows []*core.Record, st *Stats) error {
	for _, n := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		status, reason, contact, err := mailRecipient(app, n, now)
		if err != nil {
			return err
		}
		if status != "" {
			if err := finish(app, n, now, status, reason, ""); err != nil {
				return err
			}
			if status == Cancelled {
				st.Cancelled++
			} else {
				st.Skipped++
			}
			continue
		}
		res, err := app.NonconcurrentDB().NewQuery(`UPDATE notifications SET attempts = attempts + 1, error = {:f},
			next_attempt_at = {:lease}, updated = {:updated}
			WHERE id = {:id} AND status = 'pending' AND (next_attempt_at = '' OR next_attempt_at <= {:now})`).
			Bind(dbx.Params{"f": inFlight, "lease": now.Add(lease).UTC().Format(types.DefaultDateLayout), "updated": types.NowDateTime().String(),
				"id": n.Id, "now": at}).Execute()
		if err != nil {
			return fmt.Errorf("claim outbox row %s: %w", n.Id, err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			continue // another runner has it
		}
		attempts := n.GetInt("attempts") + 1
		sendErr := app.NewMailClient().Send(mailOf(app, n, contact))
		var reply *textproto.Error
		switch {
		case sendErr == nil:
			err = finish(app, n, now, Sent, "", "")
			st.Sent++
		case errors.As(sendErr, &reply) && reply.Code >= 500:
			err = finish(app, n, now, Failed, "the mail server refused it for good: "+sendErr.Error(), "")
			if err == nil {
				contact.Set("email_stopped_at", now.UTC())
				contact.Set("email_stop_reason", clip(sendErr.Error()))
				err = app.Save(contact)
			}
			st.Failed++
		case attempts < MaxAttempts:
			n.Set("attempts", attempts)
			n.Set("error", clip(sendErr.Error()))
			n.Set("next_attempt_at", now.Add(Backoff(attempts, 0, rand.Float64)).UTC())
			err = app.Save(n)
			st.Retried++
		default:
			err = finish(app, n, now, Failed, sendErr.Error(), "")
			st.Failed++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mailRecipient is the contact an e-mail row goes to, or the status it
// ends with when it cannot go.
func mailRecipient(app core.App, n *core.Record, now time.Time) (status, reason string, contact *core.Record, err error) {
	if exp := n.GetDateTime("expires_at"); !exp.IsZero() && exp.Time().Before(now) {
		return Skipped, "expired before it could be delivered", nil, nil
	}
	contact, ferr := app.FindRecordById(crm.Contacts, n.GetString("contact"))
	switch {
	case ferr != nil:
		return Cancelled, "the contact no longer exists", nil, nil
	case !contact.GetBool("care_opt_in"):
		return Cancelled, "the customer opted out", nil, nil
	case contact.GetString("email") == "":
		return Skipped, ReasonNoEmail, nil, nil
	case !contact.GetDateTime("email_stopped_at").IsZero():
		return Skipped, ReasonStopped, nil, nil
	case !app.Settings().SMTP.Enabled:
		return Skipped, MailNotConfigured, nil, nil
	}
	return "", "", contact, nil
}

// footers are the words under every e-mail, per language.
var footers = map[string][2]string{
	"en":    {"Choose what you receive and when", "Unsubscribe"},
	"zh-CN": {"选择您接收的内容和时间", "退订"},
}

// mailOf is the e-mail of an outbox row: its title and body in the
// contact's language, the preferences link, and a one-click unsubscribe
// (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
func mailOf(app core.App, n *core.Record, contact *core.Record) *mailer.Message {
	data := map[string]string{}
	var raw map[string]any
	if err := json.Unmarshal([]byte(n.GetString("data")), &raw); err == nil {
		for k, v := range raw {
			data[k] = fmt.Sprint(v)
		}
	}
	words, ok := footers[data["language"]]
	if !ok {
		words = footers["en"]
	}
	title, body := n.GetString("title"), n.GetString("body")
	text := body
	htmlBody := "<p>" + html.EscapeString(body) + "</p>"
	var links []string
	if u := data["preferences_url"]; u != "" {
		text += "\n\n" + words[0] + ": " + u
		links = append(links, fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(u), html.EscapeString(words[0])))
	}
	headers := map[string]string{}
	if u := data["unsubscribe_url"]; u != "" {
		text += "\n" + words[1] + ": " + u
		links = append(links, fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(u), html.EscapeString(words[1])))
		headers["List-Unsubscribe"] = "<" + u + ">"
		headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	}
	if lang := data["language"]; lang != "" {
		headers["Content-Language"] = lang
	}
	s := app.Settings().Meta
	return &mailer.Message{
		From:    mail.Address{Name: s.SenderName, Address: s.SenderAddress},
		To:      []mail.Address{{Name: contact.GetString("name"), Address: contact.GetString("email")}},
		Subject: title,
		Text:    text,
		HTML: `<!doctype html><html><body style="font-family:sans-serif">` + "<h1 style=\"font-size:20px\">" + html.EscapeString(title) + "</h1>" +
			htmlBody + `<p style="font-size:12px;color:#555">` + strings.Join(links, " · ") + "</p></body></html>",
		Headers: headers,
	}
}
