package hooks

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces a secret in what the request log keeps.
const Redacted = "REDACTED"

// jwtLike matches a JSON Web Token (three base64url parts), the form of
// every customer link token and of PocketBase's own tokens.
var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)

// redactQuery returns a raw query with the value of every pair that
// carries a token replaced by Redacted, and whether it changed anything.
// It reads the raw text as a careless parser might, not only as Go's does:
// pairs end at '&' or ';', keys and values are percent-decoded (repeatedly:
// "tok%2565n" is "token" to a server that decodes twice), and a pair is
// redacted when its key names a token ("token", "Token", "preferences_token")
// or any part of it, decoded, holds something shaped like a JWT. A pair that
// cannot be told apart (a key with a JWT in it) is replaced whole.
func redactQuery(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	var b strings.Builder
	changed := false
	start := 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '&' && raw[i] != ';' {
			continue
		}
		pair := raw[start:i]
		if out, ok := redactPair(pair); ok {
			pair, changed = out, true
		}
		b.WriteString(pair)
		if i < len(raw) {
			b.WriteByte(raw[i])
		}
		start = i + 1
	}
	if !changed {
		return raw, false
	}
	return b.String(), true
}

func redactPair(pair string) (string, bool) {
	key, value, hasValue := strings.Cut(pair, "=")
	dk, dv := decodeAll(key), decodeAll(value)
	switch {
	case holdsSecret(dk):
		return Redacted, true
	case !hasValue:
		return pair, false
	case namesToken(dk), holdsSecret(dv):
		return key + "=" + Redacted, true
	}
	return pair, false
}

// namesToken reports whether a decoded query key is a token's name.
func namesToken(key string) bool {
	return strings.Contains(strings.ToLower(key), "token")
}

// holdsSecret reports whether decoded text carries a token: a JWT, or a
// "token=" pair hidden inside it (an encoded separator).
func holdsSecret(s string) bool {
	if jwtLike.MatchString(s) {
		return true
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '&' || r == ';' || r == '?' || r == '#' }) {
		if k, _, ok := strings.Cut(part, "="); ok && namesToken(k) {
			return true
		}
	}
	return false
}

// decodeAll percent-decodes s until it no longer changes (at most four
// times), with '+' as a space; undecodable escapes are left as they are.
func decodeAll(s string) string {
	for range 4 {
		d, err := url.QueryUnescape(s)
		if err != nil {
			d = lenientUnescape(s)
		}
		if d == s {
			return s
		}
		s = d
	}
	return s
}

// lenientUnescape decodes the valid %XX escapes of s and keeps the rest.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		if s[i] == '+' {
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// redactText replaces every JWT in free text (a path, a User-Agent) and
// redacts the query of a URL in it (a Referer).
func redactText(s string) (string, bool) {
	out := s
	if before, query, ok := strings.Cut(out, "?"); ok {
		if q, changed := redactQuery(query); changed {
			out = before + "?" + q
		}
	}
	if jwtLike.MatchString(decodeAll(out)) {
		out = jwtLike.ReplaceAllString(out, Redacted)
		if jwtLike.MatchString(decodeAll(out)) { // encoded: nothing of it is kept
			out = Redacted
		}
	}
	return out, out != s
}
