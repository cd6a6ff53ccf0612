package care_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"rounds/care"
)

// FuzzVerify: no token makes Verify panic, and one it accepts carries a
// valid HS256 signature of our secret and the scope asked for.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s, err := care.NewSigner(secret, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	valid, _, _ := s.Issue("contacta0000001", care.ScopeManage, time.Hour)
	f.Add(valid, care.ScopeManage)
	f.Add(valid, care.ScopeRegister)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", care.ScopeManage)
	f.Add("a.b.c", care.ScopeManage)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, scope string) {
		contact, err := s.Verify(token, scope)
		if err != nil {
			if _, ok := err.(*care.TokenError); !ok {
				t.Fatalf("a refusal that is not a TokenError: %T %v", err, err)
			}
			return
		}
		parts := strings.Split(token, ".")
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if len(parts) != 3 || base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] || contact == "" || scope != care.ScopeManage {
			t.Fatalf("accepted %q for scope %q", token, scope)
		}
	})
}
