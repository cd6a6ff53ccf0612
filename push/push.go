// Package push delivers the notifications outbox: a one-method Sender
// (FCM in production, a recorder in tests) and the drainer that moves each
// outbox row from pending to sent, failed, skipped or cancelled exactly once.
package push

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one push to one device.
type Message struct {
	Token       string
	Platform    string // android, ios, web or ""
	Title, Body string
	Data        map[string]string
	// CollapseKey makes a repeated delivery replace, not add to, the
	// earlier one on the phone.
	CollapseKey string
	// ExpiresAt is when the message is no longer worth delivering (TTL).
	ExpiresAt time.Time
}

// Sender sends up to MaxBatch messages and returns one result per message,
// in order. The error is for the batch as a whole (nothing was sent).
type Sender interface {
	Send(ctx context.Context, messages []Message) ([]Result, error)
}

// MaxBatch is the largest batch FCM's SendEach takes.
const MaxBatch = 500

// Result is the outcome of one message.
type Result struct {
	MessageID string // FCM's id, on success
	Err       error  // nil on success; classify with ClassOf
}

// Class says what to do about a failed message.
type Class int

const (
	// Retry later: network trouble, 429, 500, 503.
	Retry Class = iota
	// BadToken: the device token is unregistered or invalid; remove it.
	BadToken
	// BadPayload: the message itself was refused; fail it, keep the token.
	BadPayload
)

func (c Class) String() string {
	return [...]string{"retry", "bad token", "bad payload"}[c]
}

// Error is a classified send failure. Senders classify errors before they
// wrap them (FCM's helpers rely on type assertions).
type Error struct {
	Class      Class
	RetryAfter time.Duration // from a Retry-After header, when given
	Msg        string
}

func (e *Error) Error() string { return e.Class.String() + ": " + e.Msg }

// ClassOf returns the class of a send error; unclassified errors retry.
func ClassOf(err error) (Class, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Class, e.RetryAfter
	}
	return Retry, 0
}

// Errorf builds a classified error.
func Errorf(class Class, retryAfter time.Duration, format string, args ...any) error {
	return &Error{Class: class, RetryAfter: retryAfter, Msg: fmt.Sprintf(format, args...)}
}
