package push

import (
	"context"
	"fmt"
	gosync "sync"
)

// Recorder is a Sender for tests: it records every message and answers
// per token with the error Fail returns (nil: success).
type Recorder struct {
	mu   gosync.Mutex
	Sent []Message
	Fail func(token string) error
	n    int
}

// Send implements Sender.
func (r *Recorder) Send(_ context.Context, messages []Message) ([]Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Result, len(messages))
	for i, m := range messages {
		if r.Fail != nil {
			if err := r.Fail(m.Token); err != nil {
				out[i] = Result{Err: err}
				continue
			}
		}
		r.n++
		r.Sent = append(r.Sent, m)
		out[i] = Result{MessageID: fmt.Sprintf("projects/demo/messages/%d", r.n)}
	}
	return out, nil
}

// Tokens lists the tokens messages went to, in order.
func (r *Recorder) Tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.Sent {
		out = append(out, m.Token)
	}
	return out
}
