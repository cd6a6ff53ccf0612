package hooks

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/care"
	"rounds/crm"
	"rounds/policy"
)

// careSecretFile holds the generated signing secret in the data directory
// when ROUNDS_CARE_SECRET is not set.
const careSecretFile = ".care_secret"

// signerFor resolves the customer-link signer once: the secret from Deps,
// else ROUNDS_CARE_SECRET, else a random one stored in the data directory.
type signerFor struct {
	once   gosync.Once
	signer *care.Signer
	err    error
}

func (s *signerFor) get(app core.App, deps Deps) (*care.Signer, error) {
	s.once.Do(func() {
		secret := deps.CareSecret
		if len(secret) == 0 {
			secret = []byte(os.Getenv("ROUNDS_CARE_SECRET"))
		}
		if len(secret) == 0 {
			secret, s.err = loadOrCreateSecret(filepath.Join(app.DataDir(), careSecretFile))
			if s.err != nil {
				return
			}
		}
		s.signer, s.err = care.NewSigner(secret, deps.Now)
	})
	return s.signer, s.err
}

func loadOrCreateSecret(path string) ([]byte, error) {
	if data, err := os.ReadFile(path); err == nil && len(data) >= 64 {
		return data, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(buf))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("store the care signing secret: %w", err)
	}
	return secret, nil
}

// registerCare serves the customer-care endpoints: invites for reps, device
// registration and preferences for customers (JSON and a phone-sized page).
func registerCare(app core.App, deps Deps, signers *signerFor) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		h := &careHandlers{deps: deps, signers: signers}
		se.Router.POST("/api/care/invites", h.invite).Bind(apis.RequireAuth(crm.Users))
		se.Router.POST("/api/care/register", h.register)
		se.Router.GET("/care/register", h.invitePage)
		se.Router.GET("/api/care/preferences", h.preferencesJSON)
		se.Router.POST("/api/care/preferences", h.preferencesJSON)
		se.Router.GET("/care/preferences", h.preferencesPage)
		se.Router.POST("/care/preferences", h.preferencesPage)
		se.Router.POST("/care/register/email", h.emailInvite)
		se.Router.GET("/care/confirm", h.confirmPage)
		se.Router.POST("/care/confirm", h.confirmPage)
		se.Router.GET("/care/unsubscribe", h.unsubscribePage)
		se.Router.POST("/care/unsubscribe", h.unsubscribePage)
		return se.Next()
	})
}

type careHandlers struct {
	deps    Deps
	signers *signerFor
}

func (h *careHandlers) signer(e *core.RequestEvent) (*care.Signer, error) {
	s, err := h.signers.get(e.App, h.deps)
	if err != nil {
		e.App.Logger().Error("care signer unavailable", "error", err)
		return nil, router.NewInternalServerError("Customer links are not available right now.", nil)
	}
	return s, nil
}

// redactLinkTokens keeps link tokens out of the request log on every route
// and every status (404s, 405s and 429s included). It runs just inside
// PocketBase's activity logger: handlers read the request as it came, and
// before the logger writes the request down, the query, the Referer and
// the User-Agent lose every token (redactQuery says what counts as one).
func redactLinkTokens(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       "roundsRedactLinkTokens",
			Priority: apis.DefaultActivityLoggerMiddlewarePriority + 1,
			Func: func(e *core.RequestEvent) error {
				defer redactRequest(e)
				return e.Next()
			},
		})
		return se.Next()
	})
}

// redactRequest rewrites what the activity logger reads of a request.
func redactRequest(e *core.RequestEvent) {
	r := e.Request
	if q, ok := redactQuery(r.URL.RawQuery); ok {
		u := *r.URL
		u.RawQuery = q
		r.URL = &u
		r.RequestURI = u.RequestURI()
	}
	for _, h := range []string{"Referer", "User-Agent"} {
		if v, ok := redactText(r.Header.Get(h)); ok {
			r.Header.Set(h, v)
		}
	}
}

// linkToken is the link token of the request's query.
func linkToken(e *core.RequestEvent) string {
	return e.Request.URL.Query().Get("token")
}

func linkURL(app core.App, path, token string) string {
	base := strings.TrimRight(app.Settings().Meta.AppURL, "/")
	return base + path + "?token=" + url.QueryEscape(token)
}

func (h *careHandlers) invite(e *core.RequestEvent) error {
	var body struct {
		Contact string `json:"contact"`
	}
	if err := e.BindBody(&body); err != nil || body.Contact == "" {
		return router.NewBadRequestError(`The body must be {"contact": "<contact id>"}.`, nil)
	}
	// inviting a contact is a write of the contact: the policy decides
	if !policy.For(crm.Contacts).WritesRecord(actorOf(e.Auth), dbResolver{e.App}, body.Contact, policy.Update) {
		return router.NewNotFoundError("No contact of yours has this id.", nil)
	}
	signer, err := h.signer(e)
	if err != nil {
		return err
	}
	invites, err := e.App.FindCachedCollectionByNameOrId(crm.CareInvites)
	if err != nil {
		return err
	}
	invite := core.NewRecord(invites)
	invite.Set("contact", body.Contact)
	invite.Set("rep", e.Auth.Id)
	invite.Set("issued_at", h.deps.Now().UTC())
	invite.Set("expires_at", h.deps.Now().UTC().Add(care.InviteTTL))
	if err := e.App.Save(invite); err != nil {
		return router.NewBadRequestError("Failed to create the invite.", err)
	}
	token, expires, err := signer.IssueWithID(body.Contact, care.ScopeRegister, invite.Id, care.InviteTTL)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{
		"token": token, "url": linkURL(e.App, "/care/register", token), "expires_at": expires.Format("2006-01-02T15:04:05Z"),
	})
}

func (h *careHandlers) register(e *core.RequestEvent) error {
	var body struct {
		Token    string `json:"token"`
		FCMToken string `json:"fcm_token"`
		Platform string `json:"platform"`
	}
	if err := e.BindBody(&body); err != nil {
		return router.NewBadRequestError(`The body must be JSON: {"token", "fcm_token", "platform"}.`, nil)
	}
	signer, err := h.signer(e)
	if err != nil {
		return err
	}
	contactID, inviteID, err := signer.VerifyWithID(body.Token, care.ScopeRegister)
	if err != nil {
		return router.NewUnauthorizedError("The invite was refused: "+err.Error()+".", nil)
	}
	body.FCMToken = strings.TrimSpace(body.FCMToken)
	switch {
	case body.FCMToken == "":
		return router.NewBadRequestError("The field fcm_token is required: the phone's FCM registration token.", nil)
	case len(body.FCMToken) > 4096:
		return router.NewBadRequestError("The field fcm_token is longer than 4096 characters.", nil)
	case body.Platform != "" && !slices.Contains(platforms, body.Platform):
		return router.NewBadRequestError("The field platform must be android, ios or web.", nil)
	}
	err = e.App.RunInTransaction(func(tx core.App) error {
		contact, err := tx.FindRecordById(crm.Contacts, contactID)
		if err != nil {
			return router.NewNotFoundError("This invite's contact no longer exists.", nil)
		}
		invite, err := usableInvite(tx, inviteID, contact)
		if err != nil {
			return err
		}
		invite.Set("used_at", h.deps.Now().UTC())
		if err := tx.Save(invite); err != nil {
			return err
		}
		device, err := tx.FindFirstRecordByFilter(crm.ContactDevices, "token = {:t}", dbx.Params{"t": body.FCMToken})
		if err != nil {
			c, cerr := tx.FindCachedCollectionByNameOrId(crm.ContactDevices)
			if cerr != nil {
				return cerr
			}
			device = core.NewRecord(c)
			device.Set("token", body.FCMToken)
		}
		device.Set("contact", contact.Id)
		device.Set("platform", body.Platform)
		if err := tx.Save(device); err != nil {
			return err
		}
		contact.Set("care_opt_in", true)
		contact.Set("consent_at", h.deps.Now().UTC())
		contact.Set("consent_method", "invite link, registered a "+orUnknown(body.Platform)+" phone")
		contact.Set("opted_out_at", "")
		return tx.Save(contact)
	})
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			return apiErr
		}
		return router.NewBadRequestError("Failed to register the phone.", err)
	}
	token, _, err := signer.Issue(contactID, care.ScopeManage, care.PreferencesTTL)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{
		"preferences_token": token, "preferences_url": linkURL(e.App, "/care/preferences", token),
	})
}

const changedRep = "This invite no longer works: your contact at our company has changed. Ask them for a new one."

// usableInvite returns the stored invite of a register link, or the
// reason it no longer works: invites are single-use, and die when the
// customer opts out or their customer moves to another rep after the
// invite was made (voided_at), for good: coming back does not revive it.
func usableInvite(app core.App, id string, contact *core.Record) (*core.Record, error) {
	invite, err := findOptional(app, crm.CareInvites, id)
	if err != nil {
		return nil, err
	}
	gone := func(msg string) error { return router.NewApiError(http.StatusGone, msg, nil) }
	switch {
	case invite == nil || invite.GetString("contact") != contact.Id:
		return nil, router.NewUnauthorizedError("The invite was refused: it is not known here (it may have been withdrawn); ask your sales rep for a new one.", nil)
	case !invite.GetDateTime("used_at").IsZero():
		return nil, gone("This invite was already used. To change what you receive, open the preferences link you were given.")
	case !invite.GetDateTime("voided_at").IsZero():
		return nil, gone(changedRep)
	case !contact.GetDateTime("opted_out_at").IsZero() && !contact.GetDateTime("opted_out_at").Before(invite.GetDateTime("issued_at")):
		return nil, gone("You chose not to receive messages after this invite was made, so it no longer works; ask your sales rep for a new one if you changed your mind.")
	}
	owner := dbResolver{app}.Resolve(crm.Contacts, contact.Id, "customer.owner")
	if owner != invite.GetString("rep") {
		return nil, gone(changedRep)
	}
	return invite, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// preferences are what a customer may change about the messages they get.
type preferences struct {
	CareOptIn  *bool   `json:"care_opt_in"`
	QuietStart *string `json:"quiet_start"`
	QuietEnd   *string `json:"quiet_end"`
	WeeklyMax  *int    `json:"weekly_max"`
}

// contactFromLink verifies the preferences token of the request.
func (h *careHandlers) contactFromLink(e *core.RequestEvent, token string) (*core.Record, error) {
	signer, err := h.signer(e)
	if err != nil {
		return nil, err
	}
	id, err := signer.Verify(token, care.ScopeManage)
	if err != nil {
		return nil, router.NewUnauthorizedError("The link was refused: "+err.Error()+".", nil)
	}
	contact, err := e.App.FindRecordById(crm.Contacts, id)
	if err != nil {
		return nil, router.NewNotFoundError("This link's contact no longer exists.", nil)
	}
	return contact, nil
}

func prefsOf(c *core.Record) map[string]any {
	return map[string]any{
		"name": c.GetString("name"), "care_opt_in": c.GetBool("care_opt_in"),
		"quiet_start": c.GetString("quiet_start"), "quiet_end": c.GetString("quiet_end"), "weekly_max": c.GetInt("weekly_max"),
	}
}

// applyPreferences validates and saves a customer's choices and returns the
// saved contact; opting out cancels every customer message queued for them,
// in the same transaction.
func (h *careHandlers) applyPreferences(app core.App, contact *core.Record, p preferences) (*core.Record, error) {
	start, end := contact.GetString("quiet_start"), contact.GetString("quiet_end")
	if p.QuietStart != nil {
		start = *p.QuietStart
	}
	if p.QuietEnd != nil {
		end = *p.QuietEnd
	}
	if (start == "") != (end == "") {
		return nil, router.NewBadRequestError("Quiet hours need both quiet_start and quiet_end (HH:MM), or neither.", nil)
	}
	for _, v := range []string{start, end} {
		if v == "" {
			continue
		}
		if _, err := care.ParseClock(v); err != nil {
			return nil, router.NewBadRequestError("Quiet hours: "+err.Error()+".", nil)
		}
	}
	if p.WeeklyMax != nil && (*p.WeeklyMax < 0 || *p.WeeklyMax > 50) {
		return nil, router.NewBadRequestError("The field weekly_max must be between 0 (no maximum) and 50.", nil)
	}
	var saved *core.Record
	err := app.RunInTransaction(func(tx core.App) error {
		c, err := tx.FindRecordById(crm.Contacts, contact.Id)
		if err != nil {
			return err
		}
		optingOut := p.CareOptIn != nil && !*p.CareOptIn && c.GetBool("care_opt_in")
		if p.CareOptIn != nil {
			c.Set("care_opt_in", *p.CareOptIn)
			if *p.CareOptIn {
				c.Set("opted_out_at", "")
				if c.GetDateTime("consent_at").IsZero() {
					c.Set("consent_at", h.deps.Now().UTC())
					c.Set("consent_method", "preferences link")
				}
			} else {
				c.Set("opted_out_at", h.deps.Now().UTC())
			}
		}
		c.Set("quiet_start", start)
		c.Set("quiet_end", end)
		if p.WeeklyMax != nil {
			c.Set("weekly_max", *p.WeeklyMax)
		}
		if err := tx.Save(c); err != nil {
			return router.NewBadRequestError("Failed to save the preferences.", err)
		}
		saved = c
		if optingOut {
			return cancelQueued(tx, c.Id, "the customer opted out")
		}
		return nil
	})
	return saved, err
}

// cancelQueued cancels the customer messages still waiting for a contact.
func cancelQueued(app core.App, contactID, reason string) error {
	queued, err := app.FindRecordsByFilter(crm.Notifications, "contact = {:c} && audience = 'customer' && status = 'pending'", "", 0, 0, dbx.Params{"c": contactID})
	if err != nil {
		return err
	}
	for _, n := range queued {
		n.Set("status", "cancelled")
		n.Set("error", reason)
		if err := app.Save(n); err != nil {
			return err
		}
	}
	return nil
}

func (h *careHandlers) preferencesJSON(e *core.RequestEvent) error {
	contact, err := h.contactFromLink(e, linkToken(e))
	if err != nil {
		return err
	}
	if e.Request.Method == http.MethodPost {
		var p preferences
		if err := e.BindBody(&p); err != nil {
			return router.NewBadRequestError(`The body must be JSON: {"care_opt_in": bool, "quiet_start": "HH:MM", "quiet_end": "HH:MM", "weekly_max": 0-50}.`, nil)
		}
		if contact, err = h.applyPreferences(e.App, contact, p); err != nil {
			return err
		}
	}
	return e.JSON(http.StatusOK, prefsOf(contact))
}

type pageData struct {
	T                                                       map[string]string
	Lang, Error, Problem, Name, Token, QuietStart, QuietEnd string
	OptIn, Saved                                            bool
	WeeklyMax                                               int
}

func (h *careHandlers) preferencesPage(e *core.RequestEvent) error {
	token, contact, err := h.linkedContact(e, preferencesPage)
	if err != nil || contact == nil {
		return err
	}
	d := pageData{Token: token, Lang: pageLang(e, contact)}
	status := http.StatusOK
	if e.Request.Method == http.MethodPost {
		optIn := e.Request.PostForm.Get("care_opt_in") == "true"
		start, end := e.Request.PostForm.Get("quiet_start"), e.Request.PostForm.Get("quiet_end")
		p := preferences{CareOptIn: &optIn, QuietStart: &start, QuietEnd: &end}
		if raw := e.Request.PostForm.Get("weekly_max"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil {
				n = -1
			}
			p.WeeklyMax = &n
		}
		if saved, err := h.applyPreferences(e.App, contact, p); err != nil {
			var apiErr *router.ApiError
			if !errors.As(err, &apiErr) {
				return err
			}
			d.Problem, status = apiErr.Message, apiErr.Status
		} else {
			contact, d.Saved = saved, true
		}
	}
	d.Name, d.OptIn = contact.GetString("name"), contact.GetBool("care_opt_in")
	d.QuietStart, d.QuietEnd, d.WeeklyMax = contact.GetString("quiet_start"), contact.GetString("quiet_end"), contact.GetInt("weekly_max")
	return renderCare(e, preferencesPage, status, d)
}

// pageToken is a customer page's link token: the form's on a POST, else
// the address's.
func pageToken(e *core.RequestEvent) string {
	if e.Request.Method == http.MethodPost {
		if err := e.Request.ParseForm(); err == nil && e.Request.PostForm.Get("token") != "" {
			return e.Request.PostForm.Get("token")
		}
	}
	return linkToken(e)
}

// renderCare writes a customer page in its language (the browser's when
// the page has none yet).
func renderCare(e *core.RequestEvent, page *template.Template, status int, d pageData) error {
	if d.Lang == "" {
		d.Lang = pageLang(e, nil)
	}
	d.T = words(d.Lang)
	return servePage(e, status, page, d)
}

// linkedContact reads a customer page's preferences link and its contact;
// a refused link gets page's error and a nil contact.
func (h *careHandlers) linkedContact(e *core.RequestEvent, page *template.Template) (string, *core.Record, error) {
	token := pageToken(e)
	contact, err := h.contactFromLink(e, token)
	if err != nil {
		var apiErr *router.ApiError
		if errors.As(err, &apiErr) {
			return token, nil, renderCare(e, page, apiErr.Status, pageData{Error: apiErr.Message})
		}
		return token, nil, err
	}
	return token, contact, nil
}

// unsubscribePage is every e-mail's unsubscribe link (List-Unsubscribe).
// GET asks (a link checker or a mail scanner that follows it changes
// nothing); POST unsubscribes: the one-click POST of RFC 8058 a mail
// client sends with "List-Unsubscribe=One-Click", or the page's button.
// Opting out cancels what is queued, as on the preferences page.
func (h *careHandlers) unsubscribePage(e *core.RequestEvent) error {
	token, contact, err := h.linkedContact(e, unsubscribePage)
	if err != nil || contact == nil {
		return err
	}
	d := pageData{Token: token, Lang: pageLang(e, contact), Name: contact.GetString("name"), OptIn: contact.GetBool("care_opt_in")}
	if e.Request.Method == http.MethodPost {
		no := false
		if _, err := h.applyPreferences(e.App, contact, preferences{CareOptIn: &no}); err != nil {
			return err
		}
		d.OptIn, d.Saved = false, true
	}
	return renderCare(e, unsubscribePage, http.StatusOK, d)
}

// servePage writes a customer's page: never cached, and the link token in
// its address never sent on as a Referer.
func servePage(e *core.RequestEvent, status int, page *template.Template, data any) error {
	e.Response.Header().Set("Content-Type", "text/html; charset=utf-8")
	e.Response.Header().Set("Cache-Control", "no-store")
	e.Response.Header().Set("Referrer-Policy", "no-referrer")
	e.Response.WriteHeader(status)
	return page.Execute(e.Response, data)
}

// invitePage is what a customer's phone shows when they scan an invite's
// QR code or open its link: who invites them to what, and a link into the
// app, which registers with POST /api/care/register. Opening the page
// does not use the invite up.
func (h *careHandlers) invitePage(e *core.RequestEvent) error {
	token := linkToken(e)
	d, _, _, status := h.inviteOf(e, token)
	if d.Error == "" {
		d.AppLink = template.URL("rounds-care://register?token=" + url.QueryEscape(token))
	}
	return servePage(e, status, invitePage, d)
}
