package push

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"rounds/crm"
)

// Outbox statuses.
const (
	Pending   = "pending"
	Sent      = "sent"
	Failed    = "failed"
	Skipped   = "skipped"
	Cancelled = "cancelled"
)

// Delivery settings.
const (
	MaxAttempts = 5
	// lease is how long a row stays claimed while it is being sent.
	lease = 5 * time.Minute
	// inFlight marks a claimed row; one found after its lease was
	// interrupted (a crash) and is not retried: it may have gone out.
	inFlight = "sending"
	// NotConfigured is the reason given in outbox-only mode.
	NotConfigured = "push not configured"
)

// Stats counts what a delivery run did.
type Stats struct {
	Sent, Failed, Skipped, Cancelled, Retried, TokensRemoved int
}

// Backoff is the wait before attempt n+1 after n failed attempts: 30 s
// doubling up to an hour, ±20 % jitter, never less than retryAfter.
func Backoff(attempts int, retryAfter time.Duration, jitter func() float64) time.Duration {
	d := 30 * time.Second << min(max(attempts-1, 0), 7)
	d = min(d, time.Hour)
	d = time.Duration(float64(d) * (0.8 + 0.4*jitter()))
	return max(d, retryAfter)
}

type target struct {
	token, platform, table string
}

// job is an outbox row being delivered.
type job struct {
	row     *core.Record
	targets []target
	msg     Message
}

// Deliver sends up to limit due outbox rows through sender (nil: outbox-only
// mode, rows are skipped with NotConfigured). Each row is claimed in the
// database before it is sent, so a crash or a second runner never sends a
// dedup key twice.
func Deliver(ctx context.Context, app core.App, sender Sender, now time.Time, limit int) (Stats, error) {
	var st Stats
	at := now.UTC().Format(types.DefaultDateLayout)

	// rows claimed by a run that never finished (a crash): they may have
	// gone out, so they are not sent again
	interrupted, err := app.FindRecordsByFilter(crm.Notifications, "status = 'pending' && error = {:f} && next_attempt_at <= {:now}", "", 0, 0,
		dbx.Params{"f": inFlight, "now": at})
	if err != nil {
		return st, err
	}
	for _, n := range interrupted {
		if err := finish(app, n, now, Failed, "interrupted during delivery; not retried so that it is never sent twice", ""); err != nil {
			return st, err
		}
		st.Failed++
	}

	due, err := app.FindRecordsByFilter(crm.Notifications, "status = 'pending' && (next_attempt_at = '' || next_attempt_at <= {:now})", "created", limit, 0,
		dbx.Params{"now": at})
	if err != nil {
		return st, err
	}

	var jobs []*job
	var mails []*core.Record
	for _, n := range due {
		if n.GetString("channel") == crm.ChannelEmail {
			mails = append(mails, n)
			continue
		}
		status, reason, targets, err := recipients(app, n, now)
		if err != nil {
			return st, err
		}
		if status == "" && sender == nil {
			status, reason = Skipped, NotConfigured
		}
		if status != "" {
			if err := finish(app, n, now, status, reason, ""); err != nil {
				return st, err
			}
			switch status {
			case Skipped:
				st.Skipped++
			case Cancelled:
				st.Cancelled++
			}
			continue
		}
		data := map[string]string{}
		if raw := n.GetString("data"); raw != "" && raw != "null" {
			var m map[string]any
			if err := json.Unmarshal([]byte(raw), &m); err == nil {
				for k, v := range m {
					data[k] = fmt.Sprint(v)
				}
			}
		}
		data["kind"], data["dedup_key"] = n.GetString("kind"), n.GetString("dedup_key")
		jobs = append(jobs, &job{row: n, targets: targets, msg: Message{
			Title: n.GetString("title"), Body: n.GetString("body"), Data: data,
			CollapseKey: n.GetString("dedup_key"), ExpiresAt: n.GetDateTime("expires_at").Time(),
		}})
	}
	if err := deliverMail(ctx, app, now, at, mails, &st); err != nil {
		return st, err
	}
	if len(jobs) == 0 {
		return st, nil
	}

	// claim, send and record in chunks: a crash leaves at most one chunk
	// claimed and unrecorded (those rows are failed, never sent twice)
	for len(jobs) > 0 {
		n := min(len(jobs), deliverChunk)
		if err := deliverJobs(ctx, app, sender, now, at, jobs[:n], &st); err != nil {
			return st, err
		}
		jobs = jobs[n:]
	}
	return st, nil
}

// deliverChunk is how many rows are claimed at once.
const deliverChunk = 100

// deliverJobs claims, sends and records one chunk of rows.
func deliverJobs(ctx context.Context, app core.App, sender Sender, now time.Time, at string, jobs []*job, st *Stats) error {
	// claim before sending, committed: a row is claimed by one runner only
	// (a conditional update under SQLite's single writer), so overlapping
	// runs, or a crash and a restart, never send a dedup key twice
	claimed := jobs[:0]
	err := app.RunInTransaction(func(tx core.App) error {
		leaseEnd := now.Add(lease).UTC()
		for _, j := range jobs {
			res, err := tx.NonconcurrentDB().NewQuery(`UPDATE notifications SET attempts = attempts + 1, error = {:f},
				next_attempt_at = {:lease}, updated = {:updated}
				WHERE id = {:id} AND status = 'pending' AND (next_attempt_at = '' OR next_attempt_at <= {:now})`).
				Bind(dbx.Params{"f": inFlight, "lease": leaseEnd.Format(types.DefaultDateLayout), "updated": types.NowDateTime().String(),
					"id": j.row.Id, "now": at}).Execute()
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				j.row.Set("attempts", j.row.GetInt("attempts")+1)
				j.row.Set("error", inFlight)
				j.row.Set("next_attempt_at", leaseEnd)
				claimed = append(claimed, j)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("claim outbox rows: %w", err)
	}
	jobs = claimed
	if len(jobs) == 0 {
		return nil
	}

	// one message per device token, sent in batches of MaxBatch
	type slot struct {
		j *job
		t target
	}
	var slots []slot
	var msgs []Message
	for _, j := range jobs {
		for _, t := range j.targets {
			m := j.msg
			m.Token, m.Platform = t.token, t.platform
			slots = append(slots, slot{j, t})
			msgs = append(msgs, m)
		}
	}
	results := make([]Result, len(msgs))
	for i := 0; i < len(msgs); i += MaxBatch {
		end := min(i+MaxBatch, len(msgs))
		res, err := sender.Send(ctx, msgs[i:end])
		if err != nil || len(res) != end-i {
			if err == nil {
				err = fmt.Errorf("sender returned %d results for %d messages", len(res), end-i)
			}
			for k := i; k < end; k++ {
				results[k] = Result{Err: err}
			}
			continue
		}
		copy(results[i:end], res)
	}

	type outcome struct {
		messageID, lastErr string
		retry, payload     bool
		retryAfter         time.Duration
	}
	outcomes := map[*job]*outcome{}
	for _, j := range jobs {
		outcomes[j] = &outcome{}
	}
	for i, r := range results {
		o := outcomes[slots[i].j]
		if r.Err == nil {
			if o.messageID == "" {
				o.messageID = r.MessageID
			}
			continue
		}
		o.lastErr = r.Err.Error()
		switch class, after := ClassOf(r.Err); class {
		case BadToken:
			if err := removeToken(app, slots[i].t); err != nil {
				return err
			}
			st.TokensRemoved++
		case BadPayload:
			o.payload = true
		default:
			o.retry = true
			o.retryAfter = max(o.retryAfter, after)
		}
	}
	for _, j := range jobs {
		o := outcomes[j]
		switch {
		case o.messageID != "":
			err = finish(app, j.row, now, Sent, "", o.messageID)
			st.Sent++
		case o.retry && j.row.GetInt("attempts") < MaxAttempts:
			j.row.Set("error", clip(o.lastErr))
			j.row.Set("next_attempt_at", now.Add(Backoff(j.row.GetInt("attempts"), o.retryAfter, rand.Float64)).UTC())
			err = app.Save(j.row)
			st.Retried++
		case o.retry || o.payload:
			err = finish(app, j.row, now, Failed, o.lastErr, "")
			st.Failed++
		default:
			err = finish(app, j.row, now, Failed, "no valid device token: "+o.lastErr, "")
			st.Failed++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// recipients resolves the device tokens of a row, or the status it ends
// with when it cannot be sent.
func recipients(app core.App, n *core.Record, now time.Time) (status, reason string, targets []target, err error) {
	if exp := n.GetDateTime("expires_at"); !exp.IsZero() && exp.Time().Before(now) {
		return Skipped, "expired before it could be delivered", nil, nil
	}
	var query string
	var owner string
	switch n.GetString("audience") {
	case "customer":
		contact, ferr := app.FindRecordById(crm.Contacts, n.GetString("contact"))
		if ferr != nil {
			return Cancelled, "the contact no longer exists", nil, nil
		}
		if !contact.GetBool("care_opt_in") {
			return Cancelled, "the customer opted out", nil, nil
		}
		query, owner = "SELECT token, platform, 'contact_devices' AS tbl FROM contact_devices WHERE contact = {:o}", contact.Id
	default:
		user, ferr := app.FindRecordById(crm.Users, n.GetString("user"))
		if ferr != nil || !user.GetBool("active") {
			return Cancelled, "the rep is no longer active", nil, nil
		}
		query, owner = "SELECT token, platform, 'devices' AS tbl FROM devices WHERE user = {:o}", user.Id
	}
	var rows []struct {
		Token    string `db:"token"`
		Platform string `db:"platform"`
		Tbl      string `db:"tbl"`
	}
	if err := app.DB().NewQuery(query).Bind(dbx.Params{"o": owner}).All(&rows); err != nil {
		return "", "", nil, err
	}
	if len(rows) == 0 {
		return Skipped, "no registered device", nil, nil
	}
	for _, r := range rows {
		targets = append(targets, target{r.Token, r.Platform, r.Tbl})
	}
	return "", "", targets, nil
}

func removeToken(app core.App, t target) error {
	_, err := app.DB().NewQuery("DELETE FROM " + t.table + " WHERE token = {:t}").Bind(dbx.Params{"t": t.token}).Execute()
	return err
}

func finish(app core.App, n *core.Record, now time.Time, status, reason, messageID string) error {
	n.Set("status", status)
	n.Set("error", clip(reason))
	n.Set("next_attempt_at", "")
	if status == Sent {
		n.Set("sent_at", now.UTC())
		n.Set("message_id", messageID)
	}
	return app.Save(n)
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000]
	}
	return s
}
