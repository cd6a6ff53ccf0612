// Package fcm is the push.Sender for Firebase Cloud Messaging, on the
// Firebase Admin SDK (firebase.google.com/go/v4). It is its own package so
// that only the binaries that really send link the SDK.
package fcm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"rounds/push"
)

// Config selects the FCM project and endpoint.
type Config struct {
	ProjectID string
	// CredentialsFile is a service-account JSON file; empty sends without
	// authentication (an emulator or a local fake).
	CredentialsFile string
	// Endpoint is the API base URL including /v1; empty is Google's.
	Endpoint string
}

// FromEnv reads FCM_CREDENTIALS, FCM_PROJECT_ID and FCM_ENDPOINT; ok is
// false when none is set (outbox-only mode).
func FromEnv(getenv func(string) string) (cfg Config, ok bool) {
	cfg = Config{ProjectID: getenv("FCM_PROJECT_ID"), CredentialsFile: getenv("FCM_CREDENTIALS"), Endpoint: getenv("FCM_ENDPOINT")}
	return cfg, cfg != Config{}
}

// Sender sends through FCM.
type Sender struct {
	client *messaging.Client
}

// New connects to FCM. A project id is required (without one the SDK goes
// looking for Google credentials).
func New(ctx context.Context, cfg Config) (*Sender, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("fcm: FCM_PROJECT_ID is required when FCM_CREDENTIALS or FCM_ENDPOINT is set")
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	return &Sender{client: client}, nil
}

// Send implements push.Sender with SendEach (at most 500 messages; the SDK
// sends them concurrently within the call).
func (s *Sender) Send(ctx context.Context, messages []push.Message) ([]push.Result, error) {
	if len(messages) > push.MaxBatch {
		return nil, fmt.Errorf("fcm: %d messages in one batch, at most %d", len(messages), push.MaxBatch)
	}
	out := make([]push.Result, len(messages))
	batch := make([]*messaging.Message, len(messages))
	for i, m := range messages {
		batch[i] = toFCM(m, time.Now())
	}
	br, err := s.client.SendEach(ctx, batch)
	if err != nil {
		// the whole call fails when one message is malformed: send them one
		// by one so that only the bad one fails
		for i, m := range batch {
			id, err := s.client.Send(ctx, m)
			out[i] = push.Result{MessageID: id, Err: classify(err)}
		}
		return out, nil
	}
	for i, r := range br.Responses {
		if r.Success {
			out[i] = push.Result{MessageID: r.MessageID}
		} else {
			out[i] = push.Result{Err: classify(r.Error)}
		}
	}
	return out, nil
}

// toFCM builds the FCM message: a notification with data, collapsing on the
// dedup key, expiring when the recipient's window ends.
func toFCM(m push.Message, now time.Time) *messaging.Message {
	msg := &messaging.Message{
		Token:        m.Token,
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
		Data:         m.Data,
		Android:      &messaging.AndroidConfig{CollapseKey: m.CollapseKey, Priority: "high"},
		APNS:         &messaging.APNSConfig{Headers: map[string]string{}},
		Webpush:      &messaging.WebpushConfig{Headers: map[string]string{}},
	}
	if m.CollapseKey != "" {
		key := m.CollapseKey
		if len(key) > 64 { // APNs limit
			key = key[:64]
		}
		msg.APNS.Headers["apns-collapse-id"] = key
	}
	if !m.ExpiresAt.IsZero() {
		ttl := max(m.ExpiresAt.Sub(now).Truncate(time.Second), 0)
		msg.Android.TTL = &ttl
		msg.APNS.Headers["apns-expiration"] = strconv.FormatInt(m.ExpiresAt.Unix(), 10)
		msg.Webpush.Headers["TTL"] = strconv.FormatInt(int64(ttl/time.Second), 10)
	}
	return msg
}

// classify turns an SDK error into a push.Error. It runs before anything
// wraps the error: the SDK's helpers use type assertions.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case messaging.IsUnregistered(err):
		return push.Errorf(push.BadToken, 0, "unregistered token: %s", msg)
	case messaging.IsInvalidArgument(err), messaging.IsSenderIDMismatch(err):
		return push.Errorf(push.BadToken, 0, "invalid token: %s", msg) // FCM's own code: the token
	case errorutils.IsInvalidArgument(err):
		return push.Errorf(push.BadPayload, 0, "rejected message: %s", msg) // any other 400: the payload
	case messaging.IsThirdPartyAuthError(err), errorutils.IsPermissionDenied(err), errorutils.IsUnauthenticated(err):
		return push.Errorf(push.BadPayload, 0, "not authorised: %s", msg)
	case errorutils.IsResourceExhausted(err), errorutils.IsUnavailable(err), errorutils.IsInternal(err):
		return push.Errorf(push.Retry, retryAfter(errorutils.HTTPResponse(err)), "%s", msg)
	}
	return push.Errorf(push.Retry, 0, "%s", msg) // network trouble and the unknown: try again later
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
