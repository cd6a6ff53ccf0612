package hooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/logger"

	"rounds/care"
	"rounds/internal/testapp"
)

// percentAll encodes every byte of s as %XX.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// tokenQuery draws a raw query string that carries tok somewhere: under
// the name "token" spelled or encoded in one of many ways, after any
// separator, repeated, mixed with other keys, inside another value, or in
// a fragment. Each form is one a browser, a proxy or an attacker can send.
func tokenQuery(rng *rand.Rand, tok string) string {
	keys := []string{"token", "tok%65n", "%74oken", percentAll("token"), "tok%2565n", "Token", "TOKEN", "preferences_token", "token%00"}
	values := []func(string) string{
		func(s string) string { return s },
		url.QueryEscape,
		percentAll,
		func(s string) string { return url.QueryEscape(url.QueryEscape(s)) },
		func(s string) string { return strings.ReplaceAll(s, ".", "%2E") },
	}
	seps := []string{"&", ";", "%26", "%3B", "&&", ";&"}
	others := []string{"x=1", "lang=en", "a", "=", "", "b=c=d", "q=%zz", "next=%2Fcare"}
	pair := func() string {
		return keys[rng.IntN(len(keys))] + "=" + values[rng.IntN(len(values))](tok)
	}
	var parts []string
	for range 1 + rng.IntN(3) {
		parts = append(parts, others[rng.IntN(len(others))])
	}
	switch rng.IntN(6) {
	case 0: // the token's pair twice, once well-formed
		parts = append(parts, "token="+tok, pair())
	case 1: // inside another value
		parts = append(parts, "next="+url.QueryEscape("/care/preferences?token="+tok))
	case 2: // a bare token as a key
		parts = append(parts, values[rng.IntN(len(values))](tok))
	default:
		parts = append(parts, pair())
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(seps[rng.IntN(len(seps))])
		}
		b.WriteString(p)
	}
	if rng.IntN(5) == 0 {
		b.WriteString("#token=" + tok)
	}
	return b.String()
}

// TestRequestLogHoldsNoLinkToken sends requests whose raw query, Referer
// and User-Agent carry a customer's preferences token in generated forms,
// to routes that answer 200, 401, 404 and 405, and requires that nothing
// of the token reaches the request log, in any encoding, while a plain
// ?token= link still works.
func TestRequestLogHoldsNoLinkToken(t *testing.T) {
	t.Parallel()
	app := testapp.New(t)
	app.Settings().Logs.MaxDays = 1 // the test app keeps no log otherwise
	client := testapp.NewClient(t, app)
	srv := httptest.NewServer(client.Handler())
	defer srv.Close()
	tok := issue(t, testapp.ContactA, care.ScopeManage, testapp.Now, care.PreferencesTTL)
	secret := []string{tok[strings.LastIndex(tok, ".")+1:], strings.Split(tok, ".")[1]}

	routes := []string{"/care/preferences", "/api/care/preferences", "/api/care/register", "/nothing/here", "/api/sync/pull", "/care/register"}
	rng := rand.New(rand.NewPCG(21, 1))
	sent := 0
	for i := range 300 {
		route := routes[rng.IntN(len(routes))]
		raw := tokenQuery(rng, tok)
		req, err := http.NewRequest(http.MethodGet, srv.URL+route, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = raw // sent as it is
		if rng.IntN(2) == 0 {
			req.Header.Set("Referer", "https://shop.example"+route+"?"+tokenQuery(rng, tok))
		}
		if rng.IntN(4) == 0 {
			req.Header.Set("User-Agent", "app/1 "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d %s?%s: %v", i, route, raw, err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("request %d %s?%s: %d", i, route, raw, res.StatusCode)
		}
		sent++
	}
	// the plain link still reaches the customer's preferences
	if res := client.Do(testapp.Anon, http.MethodGet, "/api/care/preferences?token="+url.QueryEscape(tok), nil); res.Status != 200 {
		t.Fatalf("the plain link: %d %s", res.Status, res.Body)
	}
	sent++

	var rows []struct{ Data string }
	deadline := time.Now().Add(10 * time.Second)
	for len(rows) < sent && time.Now().Before(deadline) {
		if h, ok := app.Logger().Handler().(*logger.BatchHandler); ok {
			_ = h.WriteAll(context.Background())
		}
		rows = nil
		if err := app.AuxDB().NewQuery("SELECT data FROM _logs WHERE json_extract(data, '$.type') = 'request'").All(&rows); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(rows) < sent {
		t.Fatalf("%d of %d requests reached the log", len(rows), sent)
	}
	redacted := 0
	for _, r := range rows {
		var d map[string]any
		if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
			t.Fatal(err)
		}
		texts := []string{r.Data}
		for _, k := range []string{"url", "referer", "userAgent", "error"} {
			if s, ok := d[k].(string); ok {
				texts = append(texts, s)
				// decoded as a careless reader would, up to three times
				for range 3 {
					if u, err := url.QueryUnescape(s); err == nil {
						s = u
					}
					texts = append(texts, s, strings.ReplaceAll(s, "%2E", "."))
				}
			}
		}
		for _, text := range texts {
			for _, part := range secret {
				if strings.Contains(text, part[:16]) {
					t.Fatalf("the request log holds the token:\n%s", r.Data)
				}
			}
		}
		if strings.Contains(r.Data, "REDACTED") {
			redacted++
		}
	}
	if redacted < sent/2 {
		t.Fatalf("only %d of %d logged requests say REDACTED", redacted, sent)
	}
}
