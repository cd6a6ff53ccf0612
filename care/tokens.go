package care

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scopes of customer links.
const (
	ScopeRegister = "care:register" // an invite: register a phone for care messages
	ScopeManage   = "care:manage"   // preferences: opt out, quiet hours, weekly maximum
	ScopeConfirm  = "care:confirm"  // an e-mail address's confirmation (double opt-in)
)

// Audience and issuer of customer links.
const (
	Audience = "rounds-care"
	Issuer   = "rounds"
)

// Lifetimes of customer links.
const (
	InviteTTL      = 7 * 24 * time.Hour
	PreferencesTTL = 365 * 24 * time.Hour
)

// Claims of a customer link.
type Claims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// Signer issues and checks customer links (HS256 with a server secret).
type Signer struct {
	secret []byte
	now    func() time.Time
}

// NewSigner returns a Signer; the secret must have at least 32 bytes.
func NewSigner(secret []byte, now func() time.Time) (*Signer, error) {
	if len(secret) < 32 {
		return nil, errors.New("care: the signing secret must have at least 32 bytes")
	}
	return &Signer{secret: secret, now: now}, nil
}

// Issue signs a link for contact with scope, valid for ttl from now.
func (s *Signer) Issue(contact, scope string, ttl time.Duration) (token string, expires time.Time, err error) {
	return s.IssueWithID(contact, scope, "", ttl)
}

// IssueWithID is Issue with a token id (jti), which names a single-use
// invite kept on the server.
func (s *Signer) IssueWithID(contact, scope, id string, ttl time.Duration) (token string, expires time.Time, err error) {
	now := s.now().UTC().Truncate(time.Second)
	expires = now.Add(ttl)
	claims := Claims{Scope: scope, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   contact,
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expires),
		ID:        id,
	}}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	return token, expires, err
}

// TokenError says why a link was refused; its message is safe to show.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

func refused(format string, args ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// Verify checks a link and returns the contact it is for. Every refusal is
// a *TokenError naming the problem: another algorithm (none included),
// a bad signature, expiry, a link not valid yet, another audience or issuer,
// a wrong scope, a missing subject.
func (s *Signer) Verify(token, scope string) (contact string, err error) {
	contact, _, err = s.VerifyWithID(token, scope)
	return contact, err
}

// VerifyWithID is Verify that also returns the token id ("" when none).
func (s *Signer) VerifyWithID(token, scope string) (contact, id string, err error) {
	if strings.TrimSpace(token) == "" {
		return "", "", refused("the link has no token")
	}
	var claims Claims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
	)
	_, err = parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, refused("the token is signed with %q; only HS256 is accepted", t.Header["alg"])
		}
		return s.secret, nil
	})
	if err != nil {
		var te *TokenError
		switch {
		case errors.As(err, &te):
			return "", "", te
		case errors.Is(err, jwt.ErrTokenMalformed):
			return "", "", refused("the token is malformed")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
			alg := "?"
			if t, _, perr := jwt.NewParser().ParseUnverified(token, &Claims{}); perr == nil {
				alg = fmt.Sprint(t.Header["alg"])
			}
			return "", "", refused("the token is signed with %q; only HS256 is accepted", alg)
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return "", "", refused("the token's signature is invalid (it was altered or not issued here)")
		case errors.Is(err, jwt.ErrTokenExpired):
			return "", "", refused("the link has expired; ask your sales rep for a new one")
		case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return "", "", refused("the link is not valid yet")
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return "", "", refused("the token is meant for another audience")
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return "", "", refused("the token was issued by someone else")
		case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
			return "", "", refused("the token lacks a required claim (%v)", err)
		}
		return "", "", refused("the token is invalid")
	}
	if claims.Scope != scope {
		return "", "", refused("this link is for %q, not %q", claims.Scope, scope)
	}
	if claims.Subject == "" {
		return "", "", refused("the token names no contact")
	}
	return claims.Subject, claims.ID, nil
}
