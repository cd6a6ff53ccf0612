// Package fakefcm is a stand-in for FCM's HTTP v1 API on loopback, for
// tests of the real Firebase SDK. The device token decides the answer:
//
//	unregistered-*  404 UNREGISTERED
//	invalid-*       400 INVALID_ARGUMENT (FcmError: a bad token)
//	payload-*       400 INVALID_ARGUMENT (BadRequest: a bad message)
//	quota-*         429 RESOURCE_EXHAUSTED with Retry-After: 7
//	flaky-*         503 the first time, then success
//	anything else   200 with a message name
package fakefcm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
)

// Message is what the fake received.
type Message struct {
	Token        string            `json:"token"`
	Notification map[string]string `json:"notification"`
	Data         map[string]string `json:"data"`
	Android      struct {
		TTL         string `json:"ttl"`
		CollapseKey string `json:"collapse_key"`
	} `json:"android"`
	APNS struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
}

// Server is a fake FCM.
type Server struct {
	*httptest.Server
	mu        gosync.Mutex
	delivered []Message
	attempts  map[string]int
	n         int
}

// Start runs a fake FCM on 127.0.0.1; URL + "/v1" is the SDK endpoint.
func Start() *Server {
	s := &Server{attempts: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// Delivered returns the messages answered with success.
func (s *Server) Delivered() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.delivered...)
}

// Attempts returns how many requests carried token.
func (s *Server) Attempts(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[token]
}

func fcmError(code int, status, detailType, errorCode, msg string) string {
	detail := fmt.Sprintf(`{"@type": %q, "errorCode": %q}`, detailType, errorCode)
	if errorCode == "" {
		detail = fmt.Sprintf(`{"@type": %q, "fieldViolations": [{"field": "message", "description": %q}]}`, detailType, msg)
	}
	return fmt.Sprintf(`{"error": {"code": %d, "message": %q, "status": %q, "details": [%s]}}`, code, msg, status, detail)
}

const fcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages:send") {
		http.Error(w, `{"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Message Message `json:"message"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, fcmError(400, "INVALID_ARGUMENT", "type.googleapis.com/google.rpc.BadRequest", "", "invalid JSON"))
		return
	}
	token := req.Message.Token
	s.mu.Lock()
	s.attempts[token]++
	attempt := s.attempts[token]
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(token, "unregistered"):
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, fcmError(404, "NOT_FOUND", fcmErrorType, "UNREGISTERED", "Requested entity was not found."))
	case strings.HasPrefix(token, "invalid"):
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, fcmError(400, "INVALID_ARGUMENT", fcmErrorType, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"))
	case strings.HasPrefix(token, "payload"):
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, fcmError(400, "INVALID_ARGUMENT", "type.googleapis.com/google.rpc.BadRequest", "", "Invalid value at 'message.data'"))
	case strings.HasPrefix(token, "quota"):
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, fcmError(429, "RESOURCE_EXHAUSTED", fcmErrorType, "QUOTA_EXCEEDED", "Quota exceeded."))
	case strings.HasPrefix(token, "flaky") && attempt == 1:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, fcmError(503, "UNAVAILABLE", fcmErrorType, "UNAVAILABLE", "The service is currently unavailable."))
	default:
		s.mu.Lock()
		s.n++
		n := s.n
		s.delivered = append(s.delivered, req.Message)
		s.mu.Unlock()
		project := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/projects/"), "/messages:send")
		fmt.Fprintf(w, `{"name": "projects/%s/messages/%d"}`, project, n)
	}
}
