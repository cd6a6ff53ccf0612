package hooks_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"rounds/care"
	"rounds/crm"
	"rounds/hooks"
	"rounds/internal/testapp"
)

func linkSigner(t *testing.T, now time.Time) *care.Signer {
	t.Helper()
	s, err := care.NewSigner(testapp.CareSecret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t *testing.T, contact, scope string, now time.Time, ttl time.Duration) string {
	t.Helper()
	tok, _, err := linkSigner(t, now).Issue(contact, scope, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCareInvites(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	res := client.Do(testapp.RepA, http.MethodPost, "/api/care/invites", M{"contact": testapp.ContactA})
	if res.Status != 200 {
		t.Fatalf("invite: %d %s", res.Status, res.Body)
	}
	var inv struct {
		Token     string `json:"token"`
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	res.JSON(t, &inv)
	contact, err := linkSigner(t, testapp.Now).Verify(inv.Token, care.ScopeRegister)
	if err != nil || contact != testapp.ContactA || !strings.Contains(inv.URL, "token=") || inv.ExpiresAt == "" {
		t.Fatalf("invite %+v: %v", inv, err)
	}
	for _, c := range []struct {
		actor, contact string
		status         int
	}{
		{testapp.RepA, testapp.ContactB, 404}, // another rep's contact
		{testapp.ManagerA, testapp.ContactA, 404},
		{testapp.Anon, testapp.ContactA, 401},
		{testapp.RepA, "", 400},
	} {
		if res := client.Do(c.actor, http.MethodPost, "/api/care/invites", M{"contact": c.contact}); res.Status != c.status {
			t.Errorf("%s inviting %q: %d %s, want %d", c.actor, c.contact, res.Status, res.Body, c.status)
		}
	}
}

func TestCareRegistration(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	// contact B has not opted in yet
	b, _ := app.FindRecordById("contacts", testapp.ContactB)
	b.Set("care_opt_in", false)
	if err := app.Save(b); err != nil {
		t.Fatal(err)
	}
	invite := inviteFor(t, client, testapp.RepB, testapp.ContactB)
	res := client.Do(testapp.Anon, http.MethodPost, "/api/care/register", M{"token": invite, "fcm_token": "fcm-customer-b", "platform": "android"})
	if res.Status != 200 {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var reg struct {
		PreferencesToken string `json:"preferences_token"`
		PreferencesURL   string `json:"preferences_url"`
	}
	res.JSON(t, &reg)
	if who, err := linkSigner(t, testapp.Now).Verify(reg.PreferencesToken, care.ScopeManage); err != nil || who != testapp.ContactB || !strings.Contains(reg.PreferencesURL, "/care/preferences?token=") {
		t.Fatalf("preferences link: %+v %v", reg, err)
	}
	b, _ = app.FindRecordById("contacts", testapp.ContactB)
	if !b.GetBool("care_opt_in") || !b.GetDateTime("consent_at").Time().Equal(testapp.Now) || !strings.Contains(b.GetString("consent_method"), "invite") {
		t.Fatalf("consent not recorded: %v", b.FieldsData())
	}
	// the same phone registering again (or for another contact) keeps one row
	again := inviteFor(t, client, testapp.RepA, testapp.ContactA)
	if res := client.Do(testapp.Anon, http.MethodPost, "/api/care/register", M{"token": again, "fcm_token": "fcm-customer-b"}); res.Status != 200 {
		t.Fatalf("re-register: %d %s", res.Status, res.Body)
	}
	if n, _ := app.CountRecords("contact_devices", dbx.HashExp{"token": "fcm-customer-b"}); n != 1 {
		t.Fatalf("%d rows for one phone", n)
	}

	manage := issue(t, testapp.ContactB, care.ScopeManage, testapp.Now, care.PreferencesTTL)
	expired := issue(t, testapp.ContactB, care.ScopeRegister, testapp.Now.Add(-30*24*time.Hour), care.InviteTTL)
	future := issue(t, testapp.ContactB, care.ScopeRegister, testapp.Now.Add(24*time.Hour), care.InviteTTL)
	for _, c := range []struct {
		name, token, fcm string
		status           int
		mention          string
	}{
		{"expired invite", expired, "x", 401, "expired"},
		{"invite from the future", future, "x", 401, "not valid yet"},
		{"a preferences link is not an invite", manage, "x", 401, `for \"care:manage\"`},
		{"tampered", invite[:len(invite)-3] + "abc", "x", 401, "signature"},
		{"no token", "", "x", 401, "no token"},
		{"no phone token", invite, "", 400, "fcm_token is required"},
		{"an invite used twice", invite, "x", 410, "already used"},
		{"a signed invite the server never made", issue(t, testapp.ContactB, care.ScopeRegister, testapp.Now, care.InviteTTL), "x", 401, "not known"},
	} {
		res := client.Do(testapp.Anon, http.MethodPost, "/api/care/register", M{"token": c.token, "fcm_token": c.fcm})
		if res.Status != c.status || !strings.Contains(res.Body, c.mention) {
			t.Errorf("%s: %d %s, want %d mentioning %q", c.name, res.Status, res.Body, c.status, c.mention)
		}
	}
}

func pending(t *testing.T, app *tests.TestApp, audience, contact, user, key string) {
	t.Helper()
	c, _ := app.FindCollectionByNameOrId("notifications")
	n := core.NewRecord(c)
	n.Load(map[string]any{"kind": "birthday_greeting", "audience": audience, "contact": contact, "user": user, "dedup_key": key, "status": "pending"})
	if err := app.Save(n); err != nil {
		t.Fatal(err)
	}
}

func statusOf(t *testing.T, app *tests.TestApp, key string) string {
	t.Helper()
	n, err := app.FindFirstRecordByFilter("notifications", "dedup_key = {:k}", dbx.Params{"k": key})
	if err != nil {
		t.Fatal(err)
	}
	return n.GetString("status")
}

func TestCarePreferencesJSON(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	token := url.QueryEscape(issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL))
	path := "/api/care/preferences?token=" + token

	res := client.Do(testapp.Anon, http.MethodGet, path, nil)
	if res.Status != 200 || !strings.Contains(res.Body, `"care_opt_in":true`) {
		t.Fatalf("read: %d %s", res.Status, res.Body)
	}
	res = client.Do(testapp.Anon, http.MethodPost, path, M{"quiet_start": "20:00", "quiet_end": "08:00", "weekly_max": 2})
	if res.Status != 200 || !strings.Contains(res.Body, `"quiet_start":"20:00"`) || !strings.Contains(res.Body, `"weekly_max":2`) {
		t.Fatalf("set quiet hours: %d %s", res.Status, res.Body)
	}
	for _, c := range []struct {
		body    any
		mention string
	}{
		{M{"quiet_start": "21:00", "quiet_end": ""}, "both quiet_start and quiet_end"},
		{M{"quiet_start": "25:00", "quiet_end": "08:00"}, "not a time of day"},
		{M{"weekly_max": 99}, "between 0"},
		{`{"care_opt_in": "maybe"}`, "must be JSON"},
	} {
		if res := client.Do(testapp.Anon, http.MethodPost, path, c.body); res.Status != 400 || !strings.Contains(res.Body, c.mention) {
			t.Errorf("%v: %d %s, want 400 mentioning %q", c.body, res.Status, res.Body, c.mention)
		}
	}

	// opting out cancels what is queued for this customer, at once, and nothing else
	pending(t, app, "customer", testapp.ContactA, "", "birthday:a")
	pending(t, app, "customer", testapp.ContactB, "", "birthday:b")
	pending(t, app, "rep", "", testapp.UserRepA, "follow_up:a")
	res = client.Do(testapp.Anon, http.MethodPost, path, M{"care_opt_in": false})
	if res.Status != 200 || !strings.Contains(res.Body, `"care_opt_in":false`) {
		t.Fatalf("opt out: %d %s", res.Status, res.Body)
	}
	if statusOf(t, app, "birthday:a") != "cancelled" || statusOf(t, app, "birthday:b") != "pending" || statusOf(t, app, "follow_up:a") != "pending" {
		t.Fatalf("after opt-out: a=%s b=%s rep=%s", statusOf(t, app, "birthday:a"), statusOf(t, app, "birthday:b"), statusOf(t, app, "follow_up:a"))
	}
	if c, _ := app.FindRecordById("contacts", testapp.ContactA); c.GetDateTime("opted_out_at").IsZero() {
		t.Fatal("opted_out_at not recorded")
	}

	// an invite is not a preferences link; a link only ever shows its own contact
	invite := url.QueryEscape(issue(t, testapp.ContactA, care.ScopeRegister, testapp.Now, care.InviteTTL))
	if res := client.Do(testapp.Anon, http.MethodGet, "/api/care/preferences?token="+invite, nil); res.Status != 401 {
		t.Fatalf("invite used as preferences link: %d %s", res.Status, res.Body)
	}
	if res := client.Do(testapp.Anon, http.MethodGet, "/api/care/preferences", nil); res.Status != 401 || !strings.Contains(res.Body, "no token") {
		t.Fatalf("no token: %d %s", res.Status, res.Body)
	}
}

func TestCarePreferencesPage(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	token := issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL)
	res := client.Do(testapp.Anon, http.MethodGet, "/care/preferences?token="+url.QueryEscape(token), nil)
	if res.Status != 200 || !strings.Contains(res.Body, "<form") || !strings.Contains(res.Body, "Contact of userrepa0000001") || !strings.Contains(res.Body, "viewport") {
		t.Fatalf("page: %d %.300s", res.Status, res.Body)
	}
	pending(t, app, "customer", testapp.ContactA, "", "birthday:a")
	form := url.Values{"token": {token}, "quiet_start": {""}, "quiet_end": {""}, "weekly_max": {"0"}} // box unticked: opt out
	res = client.DoWithHeaders(testapp.Anon, http.MethodPost, "/care/preferences", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if res.Status != 200 || !strings.Contains(res.Body, "You will not receive any more messages") {
		t.Fatalf("opt out by form: %d %.400s", res.Status, res.Body)
	}
	if statusOf(t, app, "birthday:a") != "cancelled" {
		t.Fatal("the queued greeting was not cancelled")
	}
	bad := client.Do(testapp.Anon, http.MethodGet, "/care/preferences?token=garbage", nil)
	if bad.Status != 401 || !strings.Contains(bad.Body, "malformed") || !strings.Contains(bad.Body, "<html") {
		t.Fatalf("bad link page: %d %.300s", bad.Status, bad.Body)
	}
}

func TestCareEndpointsAreRateLimited(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	var last testapp.Response
	for i := 0; i <= hooks.CareRateLimit; i++ {
		last = client.Do(testapp.Anon, http.MethodGet, "/api/care/preferences?token=guess", nil)
	}
	if last.Status != 429 || !strings.Contains(last.Body, "Too many requests") {
		t.Fatalf("request %d: %d %s", hooks.CareRateLimit+1, last.Status, last.Body)
	}
	// other endpoints are not affected
	if res := client.Do(testapp.RepA, http.MethodGet, "/api/collections/customers/records", nil); res.Status != 200 {
		t.Fatalf("customers after the care limit: %d", res.Status)
	}
}

// inviteFor asks for an invite as actor, as a rep's app does.
func inviteFor(t *testing.T, client *testapp.Client, actor, contact string) string {
	t.Helper()
	res := client.Do(actor, http.MethodPost, "/api/care/invites", M{"contact": contact})
	if res.Status != 200 {
		t.Fatalf("invite %s as %s: %d %s", contact, actor, res.Status, res.Body)
	}
	var inv struct{ Token string }
	res.JSON(t, &inv)
	return inv.Token
}

// TestInvitesDie: an invite works once, and not after the customer opted
// out or their customer moved to another rep (each made after the invite).
func TestInvitesDie(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		between func(t *testing.T, app *tests.TestApp, client *testapp.Client)
		status  int
		mention string
	}{
		{"nothing happened", func(*testing.T, *tests.TestApp, *testapp.Client) {}, 200, "preferences_token"},
		{"the customer opted out", func(t *testing.T, app *tests.TestApp, client *testapp.Client) {
			link := url.QueryEscape(issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL))
			if res := client.Do(testapp.Anon, http.MethodPost, "/api/care/preferences?token="+link, M{"care_opt_in": false}); res.Status != 200 {
				t.Fatalf("opt out: %d %s", res.Status, res.Body)
			}
		}, 410, "chose not to receive"},
		{"the customer moved to another rep", func(t *testing.T, app *tests.TestApp, _ *testapp.Client) {
			c, _ := app.FindRecordById("customers", testapp.CustomerA)
			c.Set("owner", testapp.UserRepB)
			if err := app.Save(c); err != nil {
				t.Fatal(err)
			}
		}, 410, "contact at our company has changed"},
		{"the customer moved away and came back", func(t *testing.T, app *tests.TestApp, _ *testapp.Client) {
			c, _ := app.FindRecordById("customers", testapp.CustomerA)
			for _, owner := range []string{testapp.UserRepB, testapp.UserRepA} {
				c.Set("owner", owner)
				if err := app.Save(c); err != nil {
					t.Fatal(err)
				}
			}
		}, 410, "contact at our company has changed"},
		{"the contact moved to another customer and back", func(t *testing.T, app *tests.TestApp, _ *testapp.Client) {
			c, _ := app.FindRecordById("contacts", testapp.ContactA)
			for _, customer := range []string{testapp.CustomerB, testapp.CustomerA} {
				c.Set("customer", customer)
				if err := app.Save(c); err != nil {
					t.Fatal(err)
				}
			}
		}, 410, "contact at our company has changed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			app := testapp.New(t)
			client := testapp.NewClient(t, app)
			invite := inviteFor(t, client, testapp.RepA, testapp.ContactA)
			page := client.Do(testapp.Anon, http.MethodGet, "/care/register?token="+url.QueryEscape(invite), nil)
			if page.Status != 200 || !strings.Contains(page.Body, "Accept in the app") {
				t.Fatalf("invite page before: %d %.300s", page.Status, page.Body)
			}
			c.between(t, app, client)
			res := client.Do(testapp.Anon, http.MethodPost, "/api/care/register", M{"token": invite, "fcm_token": "fcm-" + c.name})
			if res.Status != c.status || !strings.Contains(res.Body, c.mention) {
				t.Fatalf("register: %d %s, want %d mentioning %q", res.Status, res.Body, c.status, c.mention)
			}
			contact, _ := app.FindRecordById("contacts", testapp.ContactA)
			if c.status != 200 && contact.GetBool("care_opt_in") && c.name == "the customer opted out" {
				t.Fatal("a dead invite turned the customer back on")
			}
			// the page tells the customer the same, in words
			page = client.Do(testapp.Anon, http.MethodGet, "/care/register?token="+url.QueryEscape(invite), nil)
			if c.status == 200 {
				if page.Status != 410 || !strings.Contains(page.Body, "already used") {
					t.Fatalf("invite page after use: %d %.300s", page.Status, page.Body)
				}
			} else if page.Status != c.status || !strings.Contains(page.Body, "does not work") {
				t.Fatalf("invite page: %d %.300s", page.Status, page.Body)
			}
		})
	}
}

// TestLinksUseThePublicURL: with ROUNDS_PUBLIC_URL (Deps.PublicURL) set, a
// customer's links point at it, not at the dashboard's default address.
func TestLinksUseThePublicURL(t *testing.T) {
	t.Parallel()
	deps := testapp.Deps()
	deps.PublicURL = "http://127.0.0.1:9999"
	app := testapp.NewWith(t, deps)
	client := testapp.NewClient(t, app)
	res := client.Do(testapp.RepA, "POST", "/api/care/invites", map[string]any{"contact": testapp.ContactA})
	var invite struct{ URL string }
	res.JSON(t, &invite)
	if res.Status != 200 || !strings.HasPrefix(invite.URL, "http://127.0.0.1:9999/care/register?token=") {
		t.Fatalf("invite: %d %q", res.Status, invite.URL)
	}
}

// TestCustomerPagesSpeakTheirLanguage: every language has every word; a
// page speaks ?lang= first, then the contact's language, then the
// browser's; the words of one language never leak into the other's page.
func TestCustomerPagesSpeakTheirLanguage(t *testing.T) {
	t.Parallel()
	for lang, w := range hooks.PageWords {
		for key := range hooks.PageWords["en"] {
			if w[key] == "" {
				t.Errorf("%s lacks %q", lang, key)
			}
		}
		if len(w) != len(hooks.PageWords["en"]) {
			t.Errorf("%s has %d words, English %d", lang, len(w), len(hooks.PageWords["en"]))
		}
	}
	app := testapp.New(t)
	client := testapp.NewClient(t, app)
	token := url.QueryEscape(issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL))
	get := func(path, accept string) string {
		t.Helper()
		res := client.DoWithHeaders(testapp.Anon, http.MethodGet, path, nil, map[string]string{"Accept-Language": accept})
		if res.Status != 200 {
			t.Fatalf("%s: %d", path, res.Status)
		}
		return res.Body
	}
	speaks := func(body, lang string) bool {
		return strings.Contains(body, `<html lang="`+lang+`">`) && strings.Contains(body, html.EscapeString(hooks.Words(lang)["prefs_title"]))
	}
	for _, c := range []struct {
		contactLang, accept, query, want string
	}{
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "", "zh-CN"},
		{"", "en-GB,en;q=0.9", "", "en"},
		{"", "", "", "en"},
		{"zh-CN", "en-US", "", "zh-CN"}, // the contact's language over the browser's
		{"zh-CN", "en-US", "en", "en"},  // the switch over both
		{"en", "zh-TW", "zh-CN", "zh-CN"},
	} {
		r, _ := app.FindRecordById(crm.Contacts, testapp.ContactA)
		r.Set("language", c.contactLang)
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		path := "/care/preferences?token=" + token
		if c.query != "" {
			path += "&lang=" + c.query
		}
		body := get(path, c.accept)
		other := map[string]string{"en": "zh-CN", "zh-CN": "en"}[c.want]
		if !speaks(body, c.want) || strings.Contains(body, html.EscapeString(hooks.Words(other)["prefs_intro"])) {
			t.Errorf("contact %q, browser %q, ?lang=%q: the page does not speak %s only:\n%.500s", c.contactLang, c.accept, c.query, c.want, body)
		}
	}
}
