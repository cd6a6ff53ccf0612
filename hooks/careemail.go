package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/mailer"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/care"
	"rounds/crm"
	"rounds/reminders"
)

// Consent by e-mail, without any app (double opt-in): the invite page asks
// for an address, a confirmation link goes to it, and only the click on
// that link (a POST: mail scanners that follow links confirm nothing)
// records consent, makes e-mail the contact's channel and queues a welcome.

// ConsentByEmail is the consent_method an e-mail confirmation records.
const ConsentByEmail = "e-mail confirmed (double opt-in)"

// emailHash binds a confirmation link to the address it was sent to: a
// newer request for another address voids the older link.
func emailHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return hex.EncodeToString(sum[:8])
}

// checkAddress is the address a customer typed, or why it is none.
func checkAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if s == "" || err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", fmt.Errorf("%q", s)
	}
	return s, nil
}

// maskAddress shows enough of an address to recognise it: k***@example.com.
func maskAddress(a string) string {
	at := strings.LastIndex(a, "@")
	if at < 1 {
		return a
	}
	return a[:1] + "***" + a[at:]
}

// templateWords are the words of an e-mail around consent in a language,
// filled for a contact: the admins' care template, else as Rounds ships it.
func templateWords(app core.App, kind, lang, name, rep string) (title, body string) {
	var fallback crm.Template
	for _, d := range crm.EmailTemplates {
		if d.Kind == kind && d.Language == crm.LanguageOf(lang) {
			fallback = d
		}
	}
	title, body, err := reminders.TemplateWords(app, kind, "", lang, name, rep, fallback.Title, fallback.Body)
	if err != nil {
		app.Logger().Warn("care: templates unreadable, the shipped words are used", "error", err.Error())
	}
	return title, body
}

// emailInvite is the invite page's e-mail form: it checks the invite and the
// address, and sends the confirmation link to that address.
func (h *careHandlers) emailInvite(e *core.RequestEvent) error {
	if err := e.Request.ParseForm(); err != nil {
		return servePage(e, http.StatusBadRequest, invitePage, invitePageData{T: words(pageLang(e, nil)), Error: "The form could not be read."})
	}
	token := e.Request.PostForm.Get("token")
	d, contact, invite, status := h.inviteOf(e, token)
	if d.Error != "" {
		return servePage(e, status, invitePage, d)
	}
	addr, err := checkAddress(e.Request.PostForm.Get("email"))
	if err != nil {
		d.Problem = fmt.Sprintf(d.T["bad_address"], err.Error())
		return servePage(e, http.StatusBadRequest, invitePage, d)
	}
	d.Email = addr
	if !e.App.Settings().SMTP.Enabled {
		d.Problem = d.T["no_mail"]
		return servePage(e, http.StatusServiceUnavailable, invitePage, d)
	}
	signer, err := h.signer(e)
	if err != nil {
		return err
	}
	confirm, _, err := signer.IssueWithID(contact.Id, care.ScopeConfirm, invite.Id+"."+emailHash(addr), care.InviteTTL)
	if err != nil {
		return err
	}
	invite.Set("email", addr)
	invite.Set("email_sent_at", h.deps.Now().UTC())
	if err := e.App.Save(invite); err != nil {
		return router.NewBadRequestError("Failed to keep the address.", err)
	}
	title, body := templateWords(e.App, crm.KindEmailConfirmation, d.Lang, contact.GetString("name"), d.Rep)
	link := linkURL(e.App, "/care/confirm", confirm) + "&lang=" + d.Lang
	s := e.App.Settings().Meta
	msg := &mailer.Message{
		From:    mail.Address{Name: s.SenderName, Address: s.SenderAddress},
		To:      []mail.Address{{Name: contact.GetString("name"), Address: addr}},
		Subject: title,
		Text:    body + "\n\n" + d.T["confirm_button"] + ": " + link + "\n\n" + d.T["not_you"],
		HTML: `<!doctype html><html><body style="font-family:sans-serif"><p>` + html.EscapeString(body) + `</p><p><a href="` + html.EscapeString(link) +
			`" style="display:inline-block;background:#0b57d0;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">` +
			html.EscapeString(d.T["confirm_button"]) + `</a></p><p style="font-size:12px;color:#555">` + html.EscapeString(d.T["not_you"]) + `</p></body></html>`,
		Headers: map[string]string{"Content-Language": d.Lang, "Auto-Submitted": "auto-generated"},
	}
	if err := e.App.NewMailClient().Send(msg); err != nil {
		e.App.Logger().Warn("care: the confirmation e-mail was not sent", "contact", contact.Id, "error", err.Error())
		d.Problem = d.T["send_failed"]
		return servePage(e, http.StatusBadGateway, invitePage, d)
	}
	d.Sent = maskAddress(addr)
	return servePage(e, http.StatusOK, invitePage, d)
}

// inviteOf reads an invite link for a page: the page's data, or its error
// and status.
func (h *careHandlers) inviteOf(e *core.RequestEvent, token string) (invitePageData, *core.Record, *core.Record, int) {
	d := invitePageData{AppName: e.App.Settings().Meta.AppName, Token: token}
	d.Lang = pageLang(e, nil)
	d.T = words(d.Lang)
	signer, err := h.signer(e)
	if err != nil {
		d.Error = err.Error()
		return d, nil, nil, http.StatusInternalServerError
	}
	contactID, inviteID, err := signer.VerifyWithID(token, care.ScopeRegister)
	if err != nil {
		d.Error = d.T["refused"] + err.Error() + "."
		return d, nil, nil, http.StatusUnauthorized
	}
	contact, err := findOptional(e.App, crm.Contacts, contactID)
	if err != nil || contact == nil {
		d.Error = d.T["no_contact"]
		return d, nil, nil, http.StatusNotFound
	}
	d.Lang = pageLang(e, contact)
	d.T = words(d.Lang)
	invite, err := usableInvite(e.App, inviteID, contact)
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			d.Error = apiErr.Message
			return d, nil, nil, apiErr.Status
		}
		d.Error = err.Error()
		return d, nil, nil, http.StatusInternalServerError
	}
	if rep, _ := findOptional(e.App, crm.Users, invite.GetString("rep")); rep != nil {
		d.Rep = rep.GetString("name")
	}
	d.Name = contact.GetString("name")
	d.Expires = invite.GetDateTime("expires_at").Time().Format("2006-01-02")
	return d, contact, invite, http.StatusOK
}

type confirmPageData struct {
	T                                        map[string]string
	Lang, Error, Name, Email, Token, PrefURL string
	Done                                     bool
}

// confirmPage is the link of the confirmation e-mail. GET asks; POST
// confirms: consent with its method, e-mail as the channel at that
// address, the invite used, and a welcome e-mail queued — in one
// transaction.
func (h *careHandlers) confirmPage(e *core.RequestEvent) error {
	token := pageToken(e)
	d := confirmPageData{Token: token, Lang: pageLang(e, nil)}
	d.T = words(d.Lang)
	render := func(status int) error { return servePage(e, status, confirmPage, d) }
	signer, err := h.signer(e)
	if err != nil {
		return err
	}
	contactID, id, err := signer.VerifyWithID(token, care.ScopeConfirm)
	if err != nil {
		d.Error = d.T["refused"] + err.Error() + "."
		return render(http.StatusUnauthorized)
	}
	inviteID, hash, _ := strings.Cut(id, ".")
	contact, err := findOptional(e.App, crm.Contacts, contactID)
	if err != nil || contact == nil {
		d.Error = d.T["no_contact"]
		return render(http.StatusNotFound)
	}
	d.Lang = pageLang(e, contact)
	d.T = words(d.Lang)
	d.Name = contact.GetString("name")
	invite, err := findOptional(e.App, crm.CareInvites, inviteID)
	if err != nil {
		return err
	}
	if invite != nil && !invite.GetDateTime("used_at").IsZero() && invite.GetString("email") != "" &&
		emailHash(invite.GetString("email")) == hash && contact.GetString("consent_method") == ConsentByEmail && contact.GetBool("care_opt_in") {
		d.Done, d.Email = true, invite.GetString("email") // confirmed already: clicking twice is fine
		return render(http.StatusOK)
	}
	if _, err := usableInvite(e.App, inviteID, contact); err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			d.Error = apiErr.Message
			return render(apiErr.Status)
		}
		return err
	}
	if invite.GetString("email") == "" || emailHash(invite.GetString("email")) != hash {
		d.Error = d.T["replaced"]
		return render(http.StatusGone)
	}
	d.Email = invite.GetString("email")
	if e.Request.Method != http.MethodPost {
		return render(http.StatusOK)
	}
	manage, _, err := signer.Issue(contact.Id, care.ScopeManage, care.PreferencesTTL)
	if err != nil {
		return err
	}
	now := h.deps.Now().UTC()
	err = e.App.RunInTransaction(func(tx core.App) error {
		c, err := tx.FindRecordById(crm.Contacts, contact.Id)
		if err != nil {
			return err
		}
		inv, err := tx.FindRecordById(crm.CareInvites, invite.Id)
		if err != nil {
			return err
		}
		inv.Set("used_at", now)
		if err := tx.Save(inv); err != nil {
			return err
		}
		c.Set("email", d.Email)
		c.Set("preferred_channel", crm.ChannelEmail)
		c.Set("care_opt_in", true)
		c.Set("consent_at", now)
		c.Set("consent_method", ConsentByEmail)
		c.Set("opted_out_at", "")
		c.Set("email_stopped_at", "")
		c.Set("email_stop_reason", "")
		if c.GetString("language") == "" {
			c.Set("language", d.Lang)
		}
		if err := tx.Save(c); err != nil {
			return err
		}
		return queueWelcome(tx, c, inv, d.Lang, manage, now)
	})
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			return apiErr
		}
		return router.NewBadRequestError("Failed to record the confirmation.", err)
	}
	d.Done = true
	d.PrefURL = linkURL(e.App, "/care/preferences", manage)
	return render(http.StatusOK)
}

// queueWelcome writes the welcome e-mail to the outbox; the reminders job
// sends it within a minute, retried like any e-mail.
func queueWelcome(tx core.App, contact, invite *core.Record, lang, manage string, now time.Time) error {
	col, err := tx.FindCachedCollectionByNameOrId(crm.Notifications)
	if err != nil {
		return err
	}
	rep := ""
	if u, _ := findOptional(tx, crm.Users, invite.GetString("rep")); u != nil {
		rep = u.GetString("name")
	}
	title, body := templateWords(tx, crm.KindCareWelcome, lang, contact.GetString("name"), rep)
	data, _ := json.Marshal(map[string]string{
		"language":        lang,
		"preferences_url": linkURL(tx, "/care/preferences", manage),
		"unsubscribe_url": linkURL(tx, "/care/unsubscribe", manage),
	})
	n := core.NewRecord(col)
	n.Load(map[string]any{
		"kind": crm.KindCareWelcome, "audience": "customer", "contact": contact.Id, "channel": crm.ChannelEmail,
		"dedup_key": "welcome:" + invite.Id, "title": title, "body": body, "status": "pending", "data": string(data),
		"expires_at": now.Add(48 * time.Hour),
	})
	return tx.Save(n)
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.T.confirm_title}}</title>` + pageStyle + `</head>
<body>
{{if .Error}}<h1>{{.T.link_broken}}</h1><p class="error">{{.Error}}</p>
{{else if .Done}}<h1>{{.T.confirmed_title}}</h1><p class="note">{{printf .T.confirmed .Email}}</p>
{{if .PrefURL}}<p><a href="{{.PrefURL}}">{{.T.choose}}</a></p>{{end}}
{{else}}<h1>{{.T.confirm_title}}</h1><p>{{printf .T.confirm_ask .Name .Email}}</p>
<form method="post" action="/care/confirm"><input type="hidden" name="token" value="{{.Token}}"><button type="submit">{{.T.confirm_button}}</button></form>
<p class="muted">{{.T.not_you}}</p>{{end}}
</body></html>`))
