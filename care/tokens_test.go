package care_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"rounds/care"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func signer(t *testing.T, now time.Time) *care.Signer {
	t.Helper()
	s, err := care.NewSigner(secret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func craft(t *testing.T, method jwt.SigningMethod, key any, claims care.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCustomerLinks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := signer(t, now)
	valid, expires, err := s.Issue("contacta0000001", care.ScopeRegister, care.InviteTTL)
	if err != nil || !expires.Equal(now.Add(care.InviteTTL)) {
		t.Fatal(err, expires)
	}
	claims := func(scope, aud string, iat, exp time.Time) care.Claims {
		return care.Claims{Scope: scope, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: care.Issuer, Subject: "contacta0000001", Audience: jwt.ClaimStrings{aud},
			IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	ok := claims(care.ScopeRegister, care.Audience, now.Add(-time.Hour), now.Add(time.Hour))
	parts := strings.Split(valid, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), "contacta0000001", "contactb0000001", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]
	none := craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ok)

	cases := []struct {
		name, token, scope, mention string
	}{
		{"valid", valid, care.ScopeRegister, ""},
		{"algorithm none", none, care.ScopeRegister, `signed with "none"`},
		{"another algorithm", craft(t, jwt.SigningMethodHS512, secret, ok), care.ScopeRegister, "HS512"},
		{"another secret", craft(t, jwt.SigningMethodHS256, []byte("another secret, also 32 bytes!!!"), ok), care.ScopeRegister, "signature is invalid"},
		{"tampered", tampered, care.ScopeRegister, "signature is invalid"},
		{"expired", craft(t, jwt.SigningMethodHS256, secret, claims(care.ScopeRegister, care.Audience, now.Add(-48*time.Hour), now.Add(-time.Hour))), care.ScopeRegister, "expired"},
		{"not valid yet", craft(t, jwt.SigningMethodHS256, secret, claims(care.ScopeRegister, care.Audience, now.Add(time.Hour), now.Add(48*time.Hour))), care.ScopeRegister, "not valid yet"},
		{"wrong scope", valid, care.ScopeManage, `for "care:register", not "care:manage"`},
		{"wrong audience", craft(t, jwt.SigningMethodHS256, secret, claims(care.ScopeRegister, "someone-else", now.Add(-time.Hour), now.Add(time.Hour))), care.ScopeRegister, "audience"},
		{"malformed", "not.a.jwt", care.ScopeRegister, "malformed"},
		{"empty", "", care.ScopeRegister, "no token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			contact, err := s.Verify(c.token, c.scope)
			if c.mention == "" {
				if err != nil || contact != "contacta0000001" {
					t.Fatalf("Verify = %q, %v", contact, err)
				}
				return
			}
			var te *care.TokenError
			if err == nil || !strings.Contains(err.Error(), c.mention) || !asTokenError(err, &te) {
				t.Fatalf("Verify = %q, %v; want a TokenError mentioning %q", contact, err, c.mention)
			}
		})
	}
}

func asTokenError(err error, target **care.TokenError) bool {
	te, ok := err.(*care.TokenError)
	*target = te
	return ok
}

func TestSignerNeedsAStrongSecret(t *testing.T) {
	t.Parallel()
	if _, err := care.NewSigner([]byte("short"), time.Now); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}
