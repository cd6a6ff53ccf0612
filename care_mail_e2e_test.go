package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"rounds/seed"
)

// smtpServer is a real SMTP server on loopback (go-smtp) that keeps what it
// receives; refuse makes it answer a recipient with an SMTP code.
type smtpServer struct {
	mu     gosync.Mutex
	got    []*mail.Message
	refuse map[string]int // recipient address -> code
	addr   string
}

func newSMTPServer(t *testing.T) *smtpServer {
	s := &smtpServer{refuse: map[string]int{}}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }

func (s *smtpServer) setRefusal(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[addr] = code
}

// to lists the messages received for an address.
func (s *smtpServer) to(addr string) []*mail.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*mail.Message
	for _, m := range s.got {
		if strings.Contains(m.Header.Get("To"), addr) {
			out = append(out, m)
		}
	}
	return out
}

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) AuthPlain(string, string) error       { return nil }
func (x *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *smtpSession) Reset()                               {}
func (x *smtpSession) Logout() error                        { return nil }

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if code := x.s.refuse[strings.Trim(to, "<>")]; code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox unavailable: " + to}
	}
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, m)
	x.s.mu.Unlock()
	return nil
}

// TestGreetingsByEMail runs the server with the dashboard's SMTP settings
// pointing at a real SMTP server on loopback: a contact who reads e-mail
// gets the birthday greeting through PocketBase's mailer, in their
// language, with the preferences link and a one-click unsubscribe
// (List-Unsubscribe, List-Unsubscribe-Post: RFC 8058) whose POST opts them
// out and cancels what was queued (a GET changes nothing); an address
// refused for now (450) is retried, one refused for good (550) is stopped;
// with SMTP off nothing is sent and the row says why.
func TestGreetingsByEMail(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "8", "--reps", "2")
	server := newSMTPServer(t)
	base, logs := startServer(t, ctx, dir)
	a := api{t: t, base: base}
	admin := signIn(t, base, "_superusers", demoAdmin, demoAdminPassword)
	rep := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)
	zone, loc := zoneAtNine(time.Now())
	today := time.Now().In(loc)

	// two contacts of rep 1 read e-mail, on their birthday; nobody else has one today
	var all struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/contacts/records?perPage=500&fields=id", admin, nil, &all)
	for _, c := range all.Items {
		a.do("PATCH", "/api/collections/contacts/records/"+c.ID, admin, map[string]any{"birthday": "", "care_opt_in": false}, nil)
	}
	var mine struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/contacts/records?perPage=2&sort=id&fields=id", rep, nil, &mine)
	if len(mine.Items) < 2 {
		t.Fatal("rep 1 has fewer than two contacts")
	}
	kim, sam := mine.Items[0].ID, mine.Items[1].ID
	for id, f := range map[string]map[string]any{
		kim: {"email": "kim@buyer.test", "language": "zh-CN", "name": "王小明"},
		sam: {"email": "sam@buyer.test", "language": "en", "name": "Sam Buyer"},
	} {
		f["preferred_channel"], f["care_opt_in"], f["birthday"], f["birthday_calendar"], f["timezone"] = "email", true, today.Format("01-02"), "gregorian", zone
		if status := a.do("PATCH", "/api/collections/contacts/records/"+id, admin, f, nil); status != 200 {
			t.Fatalf("set up contact %s: %d", id, status)
		}
	}
	type row struct {
		ID, Status, Error, Channel string
		Attempts                   int
	}
	rowOf := func(contact string) row {
		t.Helper()
		var res struct{ Items []row }
		// today's (the demo's outbox has last year's greetings too)
		key := "birthday:" + contact + ":" + today.Format(time.DateOnly)
		a.do("GET", "/api/collections/notifications/records?filter="+url.QueryEscape("dedup_key='"+key+"'"), admin, nil, &res)
		if len(res.Items) != 1 {
			t.Fatalf("%d greeting rows for %s, want one\n%s", len(res.Items), contact, logs.String())
		}
		return res.Items[0]
	}
	runJob := func() {
		t.Helper()
		if status := a.do("POST", "/api/crons/reminders", admin, nil, nil); status != 204 {
			t.Fatalf("run reminders: %d\n%s", status, logs.String())
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var res struct{ Items []row }
			a.do("GET", "/api/collections/notifications/records?perPage=50&filter="+url.QueryEscape("dedup_key~'"+today.Format(time.DateOnly)+"' && (contact='"+kim+"' || contact='"+sam+"')"), admin, nil, &res)
			settled := len(res.Items) >= 2
			for _, r := range res.Items {
				settled = settled && !(r.Status == "pending" && (r.Attempts == 0 || r.Error == "sending"))
			}
			if settled {
				return
			}
		}
		t.Fatalf("the outbox did not settle\n%s", logs.String())
	}

	// SMTP off: nothing is sent, and the row says why
	runJob()
	if r := rowOf(kim); r.Status != "skipped" || !strings.Contains(r.Error, "mail not configured") || r.Channel != "email" {
		t.Fatalf("with SMTP off: %+v", r)
	}
	for _, c := range []string{kim, sam} {
		a.do("DELETE", "/api/collections/notifications/records/"+rowOf(c).ID, admin, nil, nil)
	}

	host, port, _ := net.SplitHostPort(server.addr)
	portN, _ := strconv.Atoi(port)
	if status := a.do("PATCH", "/api/settings", admin, map[string]any{
		"smtp": map[string]any{"enabled": true, "host": host, "port": portN},
		"meta": map[string]any{"senderName": "Rounds Care", "senderAddress": "care@rounds.test"},
	}, nil); status != 200 {
		t.Fatalf("SMTP settings: %d", status)
	}
	server.setRefusal("sam@buyer.test", 450) // refused for now
	runJob()
	got := server.to("kim@buyer.test")
	if len(got) != 1 || len(server.to("sam@buyer.test")) != 0 {
		t.Fatalf("%d e-mails to Kim, %d to Sam; want one and none\n%s", len(got), len(server.to("sam@buyer.test")), logs.String())
	}
	m := got[0]
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "王小明，生日快乐！" {
		t.Fatalf("subject %q, want the Chinese greeting", subject)
	}
	unsub := m.Header.Get("List-Unsubscribe")
	if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(unsub, "<http") || !strings.Contains(unsub, "/care/unsubscribe?token=") {
		t.Fatalf("unsubscribe headers: %q / %q", unsub, m.Header.Get("List-Unsubscribe-Post"))
	}
	body, _ := io.ReadAll(m.Body)
	if !strings.Contains(string(body), "/care/preferences?token=") {
		t.Fatalf("the e-mail lacks the preferences link:\n%.1200s", body)
	}
	if r := rowOf(kim); r.Status != "sent" {
		t.Fatalf("Kim's row: %+v", r)
	}
	if r := rowOf(sam); r.Status != "pending" || r.Attempts != 1 || !strings.Contains(r.Error, "450") {
		t.Fatalf("Sam's row after a 450: %+v", r)
	}

	// a GET of the link changes nothing; the one-click POST unsubscribes and cancels what waits
	// (the link names the dashboard's Application URL; this server listens elsewhere)
	u, err := url.Parse(strings.Trim(unsub, "<>"))
	if err != nil {
		t.Fatal(err)
	}
	link := base + u.RequestURI()
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var contact struct {
		CareOptIn bool   `json:"care_opt_in"`
		OptedOut  string `json:"opted_out_at"`
		Stopped   string `json:"email_stopped_at"`
		Reason    string `json:"email_stop_reason"`
	}
	a.do("GET", "/api/collections/contacts/records/"+kim, admin, nil, &contact)
	if res.StatusCode != 200 || !strings.Contains(string(page), "退订") || !contact.CareOptIn {
		t.Fatalf("GET of the unsubscribe link: %d, opted in %v\n%.400s", res.StatusCode, contact.CareOptIn, page)
	}
	var queued struct{ ID string }
	if status := a.do("POST", "/api/collections/notifications/records", admin, map[string]any{"kind": "holiday_greeting", "audience": "customer",
		"contact": kim, "dedup_key": "queued-for-kim", "status": "pending", "channel": "email", "title": "t", "body": "b",
		"next_attempt_at": time.Now().Add(time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")}, &queued); status != 200 {
		t.Fatalf("queue a message: %d", status)
	}
	res, err = http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	a.do("GET", "/api/collections/contacts/records/"+kim, admin, nil, &contact)
	if res.StatusCode != 200 || contact.CareOptIn || contact.OptedOut == "" {
		t.Fatalf("one-click unsubscribe: %d, opted in %v\n%.400s", res.StatusCode, contact.CareOptIn, page)
	}
	var q struct{ Status string }
	a.do("GET", "/api/collections/notifications/records/"+queued.ID, admin, nil, &q)
	if q.Status != "cancelled" {
		t.Fatalf("a message queued for Kim is %q after the unsubscribe", q.Status)
	}

	// Sam's retry meets a refusal for good: failed, and the address stopped
	server.setRefusal("sam@buyer.test", 550)
	a.do("PATCH", "/api/collections/notifications/records/"+rowOf(sam).ID, admin, map[string]any{"next_attempt_at": ""}, nil)
	runJob()
	for deadline := time.Now().Add(10 * time.Second); rowOf(sam).Status == "pending" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // the job runs in the background
	}
	if r := rowOf(sam); r.Status != "failed" || !strings.Contains(r.Error, "550") {
		t.Fatalf("Sam's row after a 550: %+v", r)
	}
	a.do("GET", "/api/collections/contacts/records/"+sam, admin, nil, &contact)
	if contact.Stopped == "" || !strings.Contains(contact.Reason, "550") {
		t.Fatalf("Sam's address is not stopped after a 550: %+v", contact)
	}
	if n := len(server.to("sam@buyer.test")); n != 0 {
		t.Fatalf("%d e-mails reached Sam's refused address", n)
	}
}

// confirmLink is the confirmation link in the latest e-mail to addr, as a
// path on this server (the link names the dashboard's Application URL).
func (s *smtpServer) confirmLink(addr string) (string, *mail.Message) {
	got := s.to(addr)
	if len(got) == 0 {
		return "", nil
	}
	m := got[len(got)-1]
	raw, _ := io.ReadAll(m.Body)
	m.Body = bytes.NewReader(raw)
	body := decodedText(m.Header, raw)
	i := strings.Index(string(body), "/care/confirm?token=")
	if i < 0 {
		return "", m
	}
	end := strings.IndexAny(string(body[i:]), " \r\n\"<")
	if end < 0 {
		end = len(body) - i
	}
	return strings.ReplaceAll(string(body[i:i+end]), "&amp;", "&"), m
}

// TestConsentByEmailInABrowser: a customer with no app consents by e-mail.
// Over HTTP first: a bad address is a 400 that changes nothing; a GET of
// the confirmation link (a mail scanner) confirms nothing; a second
// address voids the first link. Then in Chromium on a phone, as the
// customer does it, in Chinese: the invite, the address, the e-mail, the
// click. Afterwards consent is recorded with its method, e-mail is the
// channel, and the welcome e-mail arrives with its unsubscribe headers.
func TestConsentByEmailInABrowser(t *testing.T) {
	t.Parallel()
	chromium := browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	setUp(t, ctx, dir, "--customers", "6", "--reps", "2")
	server := newSMTPServer(t)
	base, logs := startServer(t, ctx, dir)
	a := api{t: t, base: base}
	admin := signIn(t, base, "_superusers", demoAdmin, demoAdminPassword)
	rep := signIn(t, base, "users", seed.RepEmail(1), seed.DemoPassword)
	host, port, _ := net.SplitHostPort(server.addr)
	portN, _ := strconv.Atoi(port)
	a.do("PATCH", "/api/settings", admin, map[string]any{
		"smtp": map[string]any{"enabled": true, "host": host, "port": portN},
		"meta": map[string]any{"senderName": "Rounds Care", "senderAddress": "care@rounds.test"},
	}, nil)
	var mine struct{ Items []struct{ ID string } }
	a.do("GET", "/api/collections/contacts/records?perPage=2&sort=id&fields=id", rep, nil, &mine)
	if len(mine.Items) < 2 {
		t.Fatal("rep 1 has fewer than two contacts")
	}
	kim, lee := mine.Items[0].ID, mine.Items[1].ID
	for _, id := range []string{kim, lee} {
		a.do("PATCH", "/api/collections/contacts/records/"+id, admin, map[string]any{"care_opt_in": false, "consent_at": "", "consent_method": "",
			"opted_out_at": "", "language": "", "preferred_channel": "push", "email": ""}, nil)
	}
	type contact struct {
		CareOptIn bool   `json:"care_opt_in"`
		Method    string `json:"consent_method"`
		ConsentAt string `json:"consent_at"`
		Channel   string `json:"preferred_channel"`
		Email     string `json:"email"`
		Language  string `json:"language"`
	}
	contactOf := func(id string) (c contact) {
		a.do("GET", "/api/collections/contacts/records/"+id, admin, nil, &c)
		return c
	}
	invite := func(id string) string {
		var res struct{ URL string }
		if status := a.do("POST", "/api/care/invites", rep, map[string]any{"contact": id}, &res); status != 200 {
			t.Fatalf("invite: %d", status)
		}
		u, _ := url.Parse(res.URL)
		return u.RequestURI()
	}
	post := func(path string, form url.Values) (int, string) {
		res, err := http.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}

	// over HTTP, with Lee
	leeInvite := invite(lee)
	token := leeInvite[strings.Index(leeInvite, "token=")+len("token="):]
	token, _ = url.QueryUnescape(token)
	if status, body := post("/care/register/email", url.Values{"token": {token}, "email": {"not an address"}}); status != 400 || !strings.Contains(body, "is not an e-mail address") {
		t.Fatalf("a bad address: %d %.300s", status, body)
	}
	if status, _ := post("/care/register/email", url.Values{"token": {"garbage"}, "email": {"lee@buyer.test"}}); status != 401 {
		t.Fatalf("a forged invite: %d", status)
	}
	if len(server.to("lee@buyer.test")) != 0 || contactOf(lee).CareOptIn {
		t.Fatal("a refused request sent mail or changed the contact")
	}
	if status, body := post("/care/register/email", url.Values{"token": {token}, "email": {"lee.old@buyer.test"}}); status != 200 || !strings.Contains(body, "l***@buyer.test") {
		t.Fatalf("the first address: %d %.300s", status, body)
	}
	first, _ := server.confirmLink("lee.old@buyer.test")
	if status, body := post("/care/register/email", url.Values{"token": {token}, "email": {"lee@buyer.test"}}); status != 200 {
		t.Fatalf("the second address: %d %.300s", status, body)
	}
	second, m := server.confirmLink("lee@buyer.test")
	if first == "" || second == "" {
		t.Fatalf("confirmation links: %q %q\n%s", first, second, logs.String())
	}
	if subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); !strings.HasPrefix(subject, "Please confirm") {
		t.Fatalf("the confirmation's subject: %q", subject)
	}
	if status, body := get(first); status != 410 || !strings.Contains(body, "replaced") {
		t.Fatalf("the link of a replaced address %s: %d %s", first, status, body[strings.Index(body, "<body>"):])
	}
	if status, body := get(second); status != 200 || !strings.Contains(body, "lee@buyer.test") || contactOf(lee).CareOptIn {
		t.Fatalf("a GET of the link (a mail scanner): %d, opted in %v %.300s", status, contactOf(lee).CareOptIn, body)
	}
	u, _ := url.Parse(second)
	if status, body := post(u.Path, url.Values{"token": {u.Query().Get("token")}}); status != 200 || !contactOf(lee).CareOptIn {
		t.Fatalf("the confirmation's POST: %d %.300s", status, body)
	}
	if c := contactOf(lee); c.Email != "lee@buyer.test" || c.Method != "e-mail confirmed (double opt-in)" || c.Channel != "email" || c.Language != "en" {
		t.Fatalf("Lee after confirming: %+v", c)
	}

	// in a browser, with Kim
	const address = "kim.buyer@buyer.test"
	mailbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		link, _ := server.confirmLink(address)
		if link == "" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"link": "http://x" + link})
	}))
	t.Cleanup(mailbox.Close)
	shots, _ := filepath.Abs(filepath.Join("test-artifacts", "care"))
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	node := exec.CommandContext(ctx, "node", "optin.js")
	node.Dir = "e2e/dashboard"
	node.Env = append(os.Environ(), "ROUNDS_URL="+base, "INVITE="+invite(kim), "MAILBOX="+mailbox.URL, "ADDRESS="+address, "SHOTS="+shots, "CHROMIUM="+chromium)
	out, err := node.CombinedOutput()
	t.Logf("browser:\n%s", out)
	if err != nil {
		t.Fatalf("double opt-in failed: %v\nserver log:\n%s", err, logs.String())
	}
	c := contactOf(kim)
	if !c.CareOptIn || c.Method != "e-mail confirmed (double opt-in)" || c.ConsentAt == "" || c.Channel != "email" || c.Email != address || c.Language != "zh-CN" {
		t.Fatalf("Kim after the browser: %+v", c)
	}
	_, m = server.confirmLink(address)
	if subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); !strings.HasPrefix(subject, "请确认") {
		t.Fatalf("the confirmation Kim received is not in Chinese: %q", subject)
	}

	// the welcome goes out with the next run of the job
	if status := a.do("POST", "/api/crons/reminders", admin, nil, nil); status != 204 {
		t.Fatalf("run reminders: %d", status)
	}
	var welcome *mail.Message
	for deadline := time.Now().Add(10 * time.Second); welcome == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range server.to(address) {
			if s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); strings.Contains(s, "欢迎") {
				welcome = m
			}
		}
	}
	if welcome == nil {
		t.Fatalf("no welcome e-mail reached Kim\n%s", logs.String())
	}
	if welcome.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(welcome.Header.Get("List-Unsubscribe"), "/care/unsubscribe?token=") ||
		welcome.Header.Get("Content-Language") != "zh-CN" {
		t.Fatalf("the welcome's headers: %v", welcome.Header)
	}
	// an invite is used once
	if status, _ := get(leeInvite); status != 410 {
		t.Fatalf("Lee's invite after confirming: %d, want 410", status)
	}
}

// decodedText is a message's text as a reader sees it: every part, each
// decoded from its transfer encoding (quoted-printable, base64).
func decodedText(h mail.Header, raw []byte) []byte {
	decode := func(enc string, b []byte) []byte {
		switch strings.ToLower(enc) {
		case "quoted-printable":
			out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
			return out
		case "base64":
			out, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b)))
			return out
		}
		return b
	}
	media, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(media, "multipart/") {
		return decode(h.Get("Content-Transfer-Encoding"), raw)
	}
	var out []byte
	r := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(p)
		out = append(append(out, decodedText(mail.Header(p.Header), b)...), '\n')
	}
}
