// Package reminders is the `reminders` job: every minute it decides, in
// each recipient's local time, which follow-up reminders, morning digests,
// birthday greetings and holiday greetings are due, writes each once to
// the outbox under a unique dedup key, and delivers the outbox.
package reminders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
	"rounds/carestatus"
	"rounds/crm"
	"rounds/push"
)

// Config is what the job needs from outside.
type Config struct {
	// DefaultZone is the time zone of recipients who have none.
	DefaultZone *time.Location
	// PreferencesURL returns a contact's preferences link; every customer
	// message carries it.
	PreferencesURL func(contact string) (string, error)
	// UnsubscribeURL returns a contact's one-click unsubscribe link, which
	// every e-mail carries (List-Unsubscribe, RFC 8058).
	UnsubscribeURL func(contact string) (string, error)
	// Sender delivers; nil is outbox-only mode.
	Sender push.Sender
	// DeliverLimit bounds the outbox rows delivered per run (0: 2,000).
	DeliverLimit int
}

// Stats counts what one run did.
type Stats struct {
	Enqueued, SkippedAtSource int
	Delivery                  push.Stats
}

// Run enqueues what is due at now and delivers the outbox.
func Run(ctx context.Context, app core.App, now time.Time, cfg Config) (Stats, error) {
	if cfg.DefaultZone == nil {
		cfg.DefaultZone = time.UTC
	}
	if cfg.DeliverLimit <= 0 {
		cfg.DeliverLimit = 2000
	}
	r := &run{ctx: ctx, app: app, now: now.UTC(), cfg: cfg}
	var last string
	if err := app.DB().NewQuery("SELECT last_run FROM _rounds_jobs WHERE name = 'reminders'").Row(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r.stats, fmt.Errorf("the job's last run: %w", err)
	}
	r.lastRun, _ = time.Parse(dateLayout, last)
	if err := carestatus.EnsureCelebrations(app, r.now); err != nil {
		return r.stats, err
	}
	// greetings first: a call they turn into a follow-up is in the digest
	for _, step := range []func() error{r.birthdays, r.holidays, r.followUps, r.digests} {
		if err := step(); err != nil {
			return r.stats, err
		}
	}
	if _, err := app.DB().NewQuery(`INSERT INTO _rounds_jobs (name, last_run) VALUES ('reminders', {:at})
		ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run WHERE excluded.last_run > last_run`).
		Bind(dbx.Params{"at": r.now.Format(dateLayout)}).Execute(); err != nil {
		return r.stats, fmt.Errorf("the job's last run: %w", err)
	}
	var err error
	r.stats.Delivery, err = push.Deliver(ctx, app, cfg.Sender, now, cfg.DeliverLimit)
	return r.stats, err
}

// maxCatchUp bounds how far back a run after downtime looks for greetings
// whose day passed with no decision.
const maxCatchUp = 7 * 24 * time.Hour

// days lists the days whose greetings a run decides: those that exist
// somewhere on Earth now, and after downtime the days that existed since
// the last run (a week back at most), whose greetings are then written
// down as missed.
func (r *run) days() []care.Date {
	out := care.DatesAround(r.now)
	from := r.lastRun
	if from.IsZero() {
		return out
	}
	if from.Before(r.now.Add(-maxCatchUp)) {
		from = r.now.Add(-maxCatchUp)
	}
	for t := from; t.Before(r.now); t = t.Add(time.Hour) {
		for _, d := range care.DatesAround(t) {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, func(a, b care.Date) int { return strings.Compare(a.String(), b.String()) })
	return out
}

type run struct {
	ctx     context.Context
	app     core.App
	now     time.Time
	lastRun time.Time // the previous run's instant; zero on the first
	cfg     Config
	stats   Stats
	// templates holds each greeting's words read this run, by kind, campaign and language
	templates map[string][2]string
}

// notification is an outbox row to write.
type notification struct {
	Kind, Audience, User, Contact, DedupKey, Title, Body string
	Channel                                              string // "" is push
	Data                                                 map[string]any
	ExpiresAt                                            time.Time
	Status, Reason                                       string // "" means pending
	SentAt                                               time.Time
}

// errDuplicate: another runner wrote the same dedup key meanwhile.
var errDuplicate = errors.New("written meanwhile by another runner")

// exists reports whether a dedup key is already in the outbox.
func (r *run) exists(key string) (bool, error) {
	var n int
	err := r.app.DB().NewQuery("SELECT COUNT(*) FROM notifications WHERE dedup_key = {:k}").Bind(dbx.Params{"k": key}).Row(&n)
	return n > 0, err
}

// enqueue writes n once; callers have checked that its dedup key is new
// (exists), and a key written meanwhile by another runner is caught by the
// unique index.
func (r *run) enqueue(app core.App, n notification) error {
	c, err := app.FindCachedCollectionByNameOrId(crm.Notifications)
	if err != nil {
		return err
	}
	rec := core.NewRecord(c)
	status := n.Status
	if status == "" {
		status = push.Pending
	}
	data, _ := json.Marshal(n.Data)
	rec.Load(map[string]any{
		"kind": n.Kind, "audience": n.Audience, "user": n.User, "contact": n.Contact, "dedup_key": n.DedupKey,
		"title": clip(n.Title, 200), "body": clip(n.Body, 4000), "status": status, "error": n.Reason, "data": string(data),
		"channel": n.Channel,
	})
	if !n.ExpiresAt.IsZero() {
		rec.Set("expires_at", n.ExpiresAt.UTC())
	}
	if !n.SentAt.IsZero() {
		rec.Set("sent_at", n.SentAt.UTC())
	}
	if err := app.Save(rec); err != nil {
		if ok, _ := r.exists(n.DedupKey); ok {
			if app != r.app {
				return errDuplicate // inside a transaction: roll back what came with it
			}
			return nil // written meanwhile by another runner: the unique key held
		}
		return fmt.Errorf("enqueue %s: %w", n.DedupKey, err)
	}
	if status == push.Pending {
		r.stats.Enqueued++
	} else {
		r.stats.SkippedAtSource++
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return name
}

// followUps reminds reps of follow-ups due now (inside 07:00–21:00 local,
// caught up when less than a day late).
func (r *run) followUps() error {
	var rows []struct {
		ID        string `db:"id"`
		Due       string `db:"due_at"`
		Note      string `db:"note"`
		Assignee  string `db:"assignee"`
		RepZone   string `db:"rep_tz"`
		Customer  string `db:"customer"`
		CustName  string `db:"customer_name"`
		RepActive bool   `db:"active"`
	}
	err := r.app.DB().NewQuery(`
		SELECT f.id, f.due_at, f.note, f.assignee, u.timezone AS rep_tz, u.active, f.customer, c.name AS customer_name
		FROM follow_ups f INDEXED BY idx_follow_ups_due
		JOIN users u ON u.id = f.assignee JOIN customers c ON c.id = f.customer
		WHERE f.status = 'open' AND f.due_at >= {:from} AND f.due_at <= {:to}
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedup_key = ` + followUpKeySQL + `)`).
		Bind(dbx.Params{"from": r.now.Add(-2 * care.FollowUpGrace).Format(dateLayout), "to": r.now.Format(dateLayout)}).All(&rows)
	if err != nil {
		return fmt.Errorf("due follow-ups: %w", err)
	}
	for _, f := range rows {
		due, err := time.Parse(dateLayout, f.Due)
		if err != nil || !f.RepActive {
			continue
		}
		loc := care.Zone(r.cfg.DefaultZone, f.RepZone)
		dec := care.FollowUp(due, r.now, loc)
		if !dec.Due && !dec.Late {
			continue
		}
		key := fmt.Sprintf("follow_up:%s:%d", f.ID, due.UnixMilli())
		// (the query left out the decided ones; a follow-up waiting for the
		// morning comes back each minute until then, and is asked here too)
		if ok, err := r.exists(key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		n := notification{
			Kind: "follow_up_due", Audience: "rep", User: f.Assignee,
			DedupKey: key,
			Title:    "Follow-up due: " + f.CustName, Body: f.Note,
			Data:      map[string]any{"follow_up": f.ID, "customer": f.Customer},
			ExpiresAt: care.EndOfDay(r.now.In(loc)),
		}
		if dec.Late {
			n.Status, n.Reason = push.Skipped, dec.Reason
		}
		if err := r.enqueue(r.app, n); err != nil {
			return err
		}
	}
	return nil
}

const dateLayout = "2006-01-02 15:04:05.000Z"

// followUpKeySQL is a follow-up's dedup key in SQL, as followUps writes it
// ("follow_up:<id>:<due in epoch ms>", the milliseconds from due_at's
// text): the follow-ups already decided are left out in the query, so that
// a minute with nothing due reads no follow-up into Go and asks nothing
// per follow-up.
const followUpKeySQL = `'follow_up:' || f.id || ':' || (CAST(strftime('%s', f.due_at) AS INTEGER) * 1000 + CAST(substr(f.due_at, 21, 3) AS INTEGER))`

// digests sends each active rep a morning summary at 08:00 local.
func (r *run) digests() error {
	var reps []struct {
		ID   string `db:"id"`
		Zone string `db:"timezone"`
	}
	if err := r.app.DB().NewQuery("SELECT id, timezone FROM users WHERE role = 'rep' AND active = TRUE").All(&reps); err != nil {
		return err
	}
	for _, rep := range reps {
		loc := care.Zone(r.cfg.DefaultZone, rep.Zone)
		local := r.now.In(loc)
		if !care.DigestWindow.Contains(local) {
			continue
		}
		day := care.DateOf(local)
		key := fmt.Sprintf("digest:%s:%s", rep.ID, day)
		if ok, err := r.exists(key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		start := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, loc)
		end := start.AddDate(0, 0, 1)
		var today, overdue int
		q := "SELECT COUNT(*) FROM follow_ups WHERE assignee = {:r} AND status = 'open' AND due_at >= {:a} AND due_at < {:b}"
		if err := r.app.DB().NewQuery(q).Bind(dbx.Params{"r": rep.ID, "a": start.UTC().Format(dateLayout), "b": end.UTC().Format(dateLayout)}).Row(&today); err != nil {
			return err
		}
		if err := r.app.DB().NewQuery(q).Bind(dbx.Params{"r": rep.ID, "a": "", "b": start.UTC().Format(dateLayout)}).Row(&overdue); err != nil {
			return err
		}
		tomorrow := care.DateOf(start.AddDate(0, 0, 1).Add(12 * time.Hour))
		var birthdays []struct {
			Name     string `db:"name"`
			Customer string `db:"customer_name"`
		}
		// each birthday in its own calendar (a lunar one on its lunar day)
		if err := r.app.DB().NewQuery(`
			SELECT ct.name, c.name AS customer_name FROM contacts ct JOIN customers c ON c.id = ct.customer
			WHERE c.owner = {:r} AND (
				(ct.birthday_calendar != 'lunar' AND ct.birthday IN (SELECT value FROM json_each({:gregorian}))) OR
				(ct.birthday_calendar = 'lunar' AND ct.birthday IN (SELECT value FROM json_each({:lunar}))))
			ORDER BY ct.name LIMIT 20`).
			Bind(dbx.Params{"gregorian": jsonList(care.CelebratedOn(tomorrow)), "lunar": jsonList(care.LunarCelebratedOn(tomorrow)), "r": rep.ID}).
			All(&birthdays); err != nil {
			return err
		}
		// the customers to call today instead of a greeting (phone channel)
		var calls []string
		if err := r.app.DB().NewQuery(`
			SELECT f.note FROM notifications n INDEXED BY idx_notifications_user JOIN follow_ups f ON f.id = json_extract(n.data, '$.follow_up')
			WHERE n.user = {:r} AND n.channel = 'phone' AND n.status = 'sent' AND f.status = 'open' AND f.due_at >= {:a} AND f.due_at < {:b}
			ORDER BY f.due_at, f.note LIMIT 20`).
			Bind(dbx.Params{"r": rep.ID, "a": start.UTC().Format(dateLayout), "b": end.UTC().Format(dateLayout)}).Column(&calls); err != nil {
			return fmt.Errorf("calls of %s: %w", rep.ID, err)
		}
		stalled, late, err := r.dealsToChase(rep.ID, start)
		if err != nil {
			return err
		}
		due, overdueVisits, err := r.customersDue(rep.ID, rep.Zone)
		if err != nil {
			return err
		}
		stuck, err := r.stuckDevices(rep.ID, loc)
		if err != nil {
			return err
		}
		body := fmt.Sprintf("Today: %d follow-up%s, %d overdue.", today, plural(today), overdue)
		if len(calls) > 0 {
			body += " Calls today: " + strings.Join(calls, "; ") + "."
		}
		if len(birthdays) > 0 {
			names := make([]string, len(birthdays))
			for i, b := range birthdays {
				names[i] = b.Name + " (" + b.Customer + ")"
			}
			body += " Birthdays tomorrow: " + strings.Join(names, ", ") + "."
		}
		if len(due) > 0 {
			body += fmt.Sprintf(" Visits due: %d today, %d overdue — %s.", len(due)-overdueVisits, overdueVisits, strings.Join(due[:min(len(due), 10)], ", "))
		}
		if len(stalled) > 0 {
			body += " Stalled deals: " + strings.Join(stalled, ", ") + "."
		}
		if len(late) > 0 {
			body += " Past their expected close: " + strings.Join(late, ", ") + "."
		}
		for _, line := range stuck {
			body += " " + line
		}
		err = r.enqueue(r.app, notification{
			Kind: "rep_digest", Audience: "rep", User: rep.ID, DedupKey: key,
			Title: "Your day", Body: body, ExpiresAt: care.EndOfDay(local),
			Data: map[string]any{"today": today, "overdue": overdue, "birthdays_tomorrow": len(birthdays), "calls": len(calls),
				"stalled_deals": len(stalled), "late_deals": len(late), "visits_due": len(due) - overdueVisits, "visits_overdue": overdueVisits,
				"stuck_devices": len(stuck)},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stuckDevices tells the rep of each of their phones that the server keeps
// refusing records from (stuck_devices): which phone, since when, how many
// records and the latest reason. The digest is once a day, so is this.
func (r *run) stuckDevices(rep string, loc *time.Location) ([]string, error) {
	var rows []struct {
		Device  string `db:"device"`
		Agent   string `db:"user_agent"`
		Since   string `db:"stuck_since"`
		Refused int    `db:"refused"`
		Reason  string `db:"latest_reason"`
	}
	if err := r.app.DB().NewQuery(`SELECT device, user_agent, stuck_since, refused, latest_reason FROM stuck_devices
		WHERE rep = {:r} ORDER BY stuck_since, device LIMIT 3`).Bind(dbx.Params{"r": rep}).All(&rows); err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, d := range rows {
		since, _ := time.Parse(dateLayout, d.Since)
		name := d.Device
		if d.Agent != "" {
			name += " (" + d.Agent + ")"
		}
		out[i] = fmt.Sprintf("Phone %s has not synced everything since %s: the server refuses %d record%s", name, since.In(loc).Format("Jan 2, 15:04"), d.Refused, plural(d.Refused))
		if d.Reason != "" {
			out[i] += " — latest: " + d.Reason
		}
		out[i] += ". Open the app to see what to fix."
	}
	return out, nil
}

// customersDue names the rep's customers due for a visit today or overdue
// (each in its own time zone, else the rep's), A first, then the most
// overdue, as "name (A, 3 days overdue)"; overdue counts those past today.
func (r *run) customersDue(rep, repZone string) (names []string, overdue int, err error) {
	var rows []struct {
		Name string `db:"name"`
		Tier string `db:"tier"`
		Due  string `db:"next_visit_due"`
		Zone string `db:"timezone"`
	}
	// a day ahead at most: whatever the zone, a customer due later is not due today
	horizon := r.now.Add(48 * time.Hour).UTC().Format(dateLayout)
	if err := r.app.DB().NewQuery(`SELECT name, tier, next_visit_due, timezone FROM customers
		WHERE owner = {:r} AND next_visit_due != '' AND next_visit_due < {:h}`).Bind(dbx.Params{"r": rep, "h": horizon}).All(&rows); err != nil {
		return nil, 0, fmt.Errorf("customers due of %s: %w", rep, err)
	}
	type item struct {
		name, tier string
		days       int
	}
	var items []item
	for _, c := range rows {
		due, err := time.Parse(dateLayout, c.Due)
		if err != nil {
			continue
		}
		days := crm.DaysOverdue(due, r.now, care.Zone(r.cfg.DefaultZone, c.Zone, repZone))
		if days < 0 {
			continue
		}
		items = append(items, item{c.Name, c.Tier, days})
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.tier != b.tier {
			return strings.Compare(a.tier, b.tier)
		}
		if a.days != b.days {
			return b.days - a.days
		}
		return strings.Compare(a.name, b.name)
	})
	for _, it := range items {
		label := "due today"
		if it.days > 0 {
			overdue++
			label = fmt.Sprintf("%d day%s overdue", it.days, plural(it.days))
		}
		names = append(names, fmt.Sprintf("%s (%s, %s)", it.name, it.tier, label))
	}
	return names, overdue, nil
}

// dealsToChase names a rep's open deals that are stalled (longer in their
// stage than its max_days) or whose expected close is before today (start
// of the rep's day), as "title (customer)", ten of each at most.
func (r *run) dealsToChase(rep string, today time.Time) (stalled, late []string, err error) {
	var deals []struct {
		Title    string `db:"title"`
		Customer string `db:"customer_name"`
		Entered  string `db:"stage_entered_at"`
		Close    string `db:"expected_close"`
		MaxDays  int    `db:"max_days"`
	}
	err = r.app.DB().NewQuery(`
		SELECT o.title, c.name AS customer_name, o.stage_entered_at, o.expected_close, s.max_days
		FROM opportunities o JOIN stages s ON s.id = o.stage JOIN customers c ON c.id = o.customer
		WHERE o.owner = {:r} AND s.outcome = 'open' ORDER BY o.expected_close, o.title`).Bind(dbx.Params{"r": rep}).All(&deals)
	if err != nil {
		return nil, nil, fmt.Errorf("deals of %s: %w", rep, err)
	}
	for _, d := range deals {
		name := d.Title + " (" + d.Customer + ")"
		entered, _ := time.Parse(dateLayout, d.Entered)
		if crm.Stalled(entered, r.now, d.MaxDays) && len(stalled) < 10 {
			stalled = append(stalled, name)
		}
		if d.Close != "" && d.Close < today.UTC().Format(dateLayout) && len(late) < 10 {
			late = append(late, name)
		}
	}
	return stalled, late, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func jsonList(items []string) string {
	data, _ := json.Marshal(items)
	return string(data)
}

// recipient is a contact who may get a greeting.
type recipient struct {
	ID           string `db:"id"`
	Name         string `db:"name"`
	ContactZone  string `db:"contact_tz"`
	CustomerZone string `db:"customer_tz"`
	RepZone      string `db:"rep_tz"`
	RepName      string `db:"rep_name"`
	Rep          string `db:"rep"`
	RepActive    bool   `db:"rep_active"`
	Customer     string `db:"customer"`
	QuietStart   string `db:"quiet_start"`
	QuietEnd     string `db:"quiet_end"`
	WeeklyMax    int    `db:"weekly_max"`
	Language     string `db:"language"`
	Birthday     string `db:"birthday"`
	Calendar     string `db:"birthday_calendar"`
	Channel      string `db:"preferred_channel"`
	Email        string `db:"email"`
	Phone        string `db:"phone"`
	EmailStopped string `db:"email_stopped_at"`
	OptIn        bool   `db:"care_opt_in"`
	OptedOut     string `db:"opted_out_at"`
}

const recipientColumns = `ct.id, ct.name, ct.timezone AS contact_tz, c.timezone AS customer_tz, COALESCE(u.timezone, '') AS rep_tz,
	COALESCE(u.name, '') AS rep_name, COALESCE(u.id, '') AS rep, COALESCE(u.active, FALSE) AS rep_active, ct.customer,
	ct.quiet_start, ct.quiet_end, ct.weekly_max, ct.language, ct.birthday, ct.birthday_calendar,
	ct.preferred_channel, ct.email, ct.phone, ct.email_stopped_at, ct.care_opt_in, ct.opted_out_at`

// Reasons a greeting due was not sent, beside those of care.Greeting and of
// delivery (push.Deliver).
const (
	ReasonNoConsent = "no consent: the customer has not opted in"
	ReasonOptedOut  = "opted out"
	ReasonNoEmail   = push.ReasonNoEmail
	ReasonStopped   = push.ReasonStopped
	ReasonNoPhone   = "no phone number to call"
	ReasonNoRep     = "no active rep to call: the customer has no owner, or the owner is inactive"
	ReasonNoSMS     = "no SMS provider: Rounds sends no SMS yet"
	ReasonDown      = "passed while the server was down"
	ReasonLate      = "had passed when it became due (the contact, the consent or the campaign changed after it)"
)

// greet decides and enqueues one greeting for a contact whose day it is,
// or whose day passed without a decision (the server was down): every
// greeting due leaves one row, sent or saying why not. what names the
// occasion for a rep's call ("birthday", a campaign's name).
func (r *run) greet(c recipient, day care.Date, window care.Window, kind, key, title, body, what string) error {
	loc := care.Zone(r.cfg.DefaultZone, c.ContactZone, c.CustomerZone, c.RepZone)
	local := r.now.In(loc)
	today := care.DateOf(local)
	if today.Before(day) {
		return nil // not this contact's day yet
	}
	open, shut := window.Bounds(day, loc)
	phone := c.Channel == crm.ChannelPhone
	if today == day && local.Before(open) && !phone {
		return nil // a call is decided as the day begins, so that the morning digest names it
	}
	// callers select only the contacts not decided yet (NOT EXISTS on the
	// dedup key); a key written meanwhile by another runner is caught by
	// the unique index in enqueue
	g := care.Greeting{Window: window, WeeklyMax: c.WeeklyMax}
	if s, err := care.ParseClock(c.QuietStart); err == nil {
		if e, err := care.ParseClock(c.QuietEnd); err == nil {
			g.Quiet = care.Quiet{Start: s, End: e}
		}
	}
	n := notification{Kind: kind, Audience: "customer", Contact: c.ID, DedupKey: key, Title: title, Body: body,
		ExpiresAt: care.EndOfDay(open), Data: map[string]any{"language": crm.LanguageOf(c.Language)}}
	if c.Channel != crm.ChannelPush && c.Channel != "" {
		n.Channel = c.Channel
	}
	skip := func(reason string) error {
		n.Status, n.Reason = push.Skipped, reason
		return r.enqueue(r.app, n)
	}
	windowWords := "its window (" + window.Start.String() + "–" + window.End.String() + " local time) "
	switch {
	case !c.OptIn && c.OptedOut != "":
		return skip(ReasonOptedOut)
	case !c.OptIn:
		return skip(ReasonNoConsent)
	case !r.now.Before(shut):
		if r.lastRun.IsZero() || r.lastRun.Before(shut) {
			return skip(windowWords + ReasonDown)
		}
		return skip(windowWords + ReasonLate)
	case c.Channel == crm.ChannelSMS:
		return skip(ReasonNoSMS)
	case c.Channel == crm.ChannelEmail && c.Email == "":
		return skip(ReasonNoEmail)
	case c.Channel == crm.ChannelEmail && c.EmailStopped != "":
		return skip(ReasonStopped)
	case phone && strings.TrimSpace(c.Phone) == "":
		return skip(ReasonNoPhone)
	case phone && (c.Rep == "" || !c.RepActive):
		return skip(ReasonNoRep)
	}
	if c.WeeklyMax > 0 {
		// greetings and calls count; the welcome the customer asked for does not
		if err := r.app.DB().NewQuery(`SELECT COUNT(*) FROM notifications WHERE contact = {:c} AND audience = 'customer' AND kind != 'care_welcome'
			AND (status = 'pending' OR (status = 'sent' AND sent_at >= {:since}))`).
			Bind(dbx.Params{"c": c.ID, "since": r.now.Add(-7 * 24 * time.Hour).Format(dateLayout)}).Row(&g.SentThisWeek); err != nil {
			return err
		}
	}
	if phone {
		return r.call(c, g, local, open, n, what)
	}
	verdict, reason := g.Decide(local)
	switch verdict {
	case care.Wait:
		return nil
	case care.Skip:
		return skip(reason)
	}
	if c.Channel == crm.ChannelEmail && r.cfg.UnsubscribeURL != nil {
		u, err := r.cfg.UnsubscribeURL(c.ID)
		if err != nil {
			return err
		}
		n.Data["unsubscribe_url"] = u
	}
	if r.cfg.PreferencesURL != nil {
		u, err := r.cfg.PreferencesURL(c.ID)
		if err != nil {
			return err
		}
		n.Data["preferences_url"] = u
	}
	return r.enqueue(r.app, n)
}

// call turns a greeting for a customer who prefers a call into a task for
// their rep, decided as the customer's day begins: a follow-up due at the
// first minute of the greeting's window outside the customer's quiet hours
// ("Call Kim Buyer: birthday"), which the morning digest names and the
// follow-up reminder announces. The outbox row (channel phone, sent, with
// the follow-up) is written with it, in one transaction, so that a crash
// leaves both or neither; it counts toward the weekly maximum, as a call is
// a message too.
func (r *run) call(c recipient, g care.Greeting, local, open time.Time, n notification, what string) error {
	if g.WeeklyMax > 0 && g.SentThisWeek >= g.WeeklyMax {
		n.Status, n.Reason = push.Skipped, fmt.Sprintf("weekly maximum of %d reached", g.WeeklyMax)
		return r.enqueue(r.app, n)
	}
	at, ok := g.FirstOpen(local)
	if !ok {
		n.Status, n.Reason = push.Skipped, "quiet hours ("+g.Quiet.Start.String()+"–"+g.Quiet.End.String()+") cover the rest of its window"
		return r.enqueue(r.app, n)
	}
	note := "Call " + c.Name + ": " + what
	err := r.app.RunInTransaction(func(tx core.App) error {
		col, err := tx.FindCachedCollectionByNameOrId(crm.FollowUps)
		if err != nil {
			return err
		}
		f := core.NewRecord(col)
		f.Load(map[string]any{"customer": c.Customer, "contact": c.ID, "assignee": c.Rep, "due_at": at.UTC(), "note": note, "status": "open"})
		if err := tx.Save(f); err != nil {
			return fmt.Errorf("a call for %s: %w", n.DedupKey, err)
		}
		n.User, n.Title, n.Status, n.SentAt = c.Rep, note, push.Sent, r.now
		n.Data["follow_up"], n.Data["due_at"], n.Data["greeting"] = f.Id, at.UTC().Format(dateLayout), n.Body
		return r.enqueue(tx, n)
	})
	if errors.Is(err, errDuplicate) {
		return nil
	}
	return err
}

// Recipient is a contact who may get a greeting, with what decides when.
type Recipient = recipient

// SelectBirthdays returns the contacts (opted in or not: a greeting not
// sent says why) who celebrate a birthday on day and whose greeting for it
// is not decided yet, each in their own calendar: 29 February birthdays on 28 February of
// common years; lunar ones as care.LunarCelebratedOn says (a 30th on the
// 29th of a short month, a leap month's birthday in its regular month).
// It reads through the birthday index: the cost follows the birthdays,
// not the contacts.
func SelectBirthdays(app core.App, day care.Date) ([]Recipient, error) {
	gregorian, lunar := care.CelebratedOn(day), care.LunarCelebratedOn(day)
	var rows []recipient
	err := app.DB().NewQuery(`SELECT ` + recipientColumns + `
		FROM contacts ct INDEXED BY idx_contacts_birthday_opt_in
		JOIN customers c ON c.id = ct.customer LEFT JOIN users u ON u.id = c.owner
		WHERE ct.birthday IN (SELECT value FROM json_each({:keys}))
		AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedup_key = 'birthday:' || ct.id || ':' || {:day})`).
		Bind(dbx.Params{"keys": jsonList(append(slices.Clone(gregorian), lunar...)), "day": day.String()}).All(&rows)
	if err != nil {
		return nil, fmt.Errorf("birthdays on %s: %w", day, err)
	}
	return slices.DeleteFunc(rows, func(c recipient) bool {
		if c.Calendar == care.Lunar {
			return !slices.Contains(lunar, c.Birthday)
		}
		return !slices.Contains(gregorian, c.Birthday)
	}), nil
}

// TemplateWords are a message's title and body in a language, filled for
// a contact: the campaign's care template for it, else the kind's, else
// the fallback.
func TemplateWords(app core.App, kind, campaign, lang, name, rep, fallbackTitle, fallbackBody string) (title, body string, err error) {
	t, err := template(app, kind, campaign, lang, fallbackTitle, fallbackBody)
	lang = crm.LanguageOf(lang)
	return crm.Fill(t[0], lang, name, rep), crm.Fill(t[1], lang, name, rep), err
}

// template is the unfilled title and body TemplateWords fills.
func template(app core.App, kind, campaign, lang, fallbackTitle, fallbackBody string) ([2]string, error) {
	var t []struct {
		Title string `db:"title"`
		Body  string `db:"body"`
	}
	err := app.DB().NewQuery(`SELECT title, body FROM ` + crm.CareTemplates + `
		WHERE kind = {:k} AND language = {:l} AND (campaign = {:c} OR campaign = '') ORDER BY campaign = '' LIMIT 1`).
		Bind(dbx.Params{"k": kind, "l": crm.LanguageOf(lang), "c": campaign}).All(&t)
	if err != nil {
		return [2]string{}, fmt.Errorf("care templates: %w", err)
	}
	if len(t) > 0 {
		return [2]string{t[0].Title, t[0].Body}, nil
	}
	return [2]string{fallbackTitle, fallbackBody}, nil
}

// words is a greeting's title and body for a contact, in their language;
// each template is read once per run, however many contacts wait for it.
func (r *run) words(kind, campaign string, c recipient, fallbackTitle, fallbackBody string) (title, body string, err error) {
	key := kind + "\x00" + campaign + "\x00" + crm.LanguageOf(c.Language)
	tpl, ok := r.templates[key]
	if !ok {
		if tpl, err = template(r.app, kind, campaign, c.Language, fallbackTitle, fallbackBody); err != nil {
			return "", "", err
		}
		if r.templates == nil {
			r.templates = map[string][2]string{}
		}
		r.templates[key] = tpl
	}
	lang := crm.LanguageOf(c.Language)
	return crm.Fill(tpl[0], lang, c.Name, c.RepName), crm.Fill(tpl[1], lang, c.Name, c.RepName), nil
}

// birthdays greets contacts on their birthday morning, in their calendar
// and language (and says why, for those it does not greet).
func (r *run) birthdays() error {
	for _, day := range r.days() {
		rows, err := SelectBirthdays(r.app, day)
		if err != nil {
			return err
		}
		for _, c := range rows {
			title, body, err := r.words(crm.KindBirthdayGreeting, "", c, "Happy birthday, {first_name}!", "Wishing you a wonderful day. Warm wishes from {rep}.")
			if err != nil {
				return err
			}
			key := fmt.Sprintf("birthday:%s:%s", c.ID, day)
			if err := r.greet(c, day, care.BirthdayWindow, crm.KindBirthdayGreeting, key, title, body, "birthday"); err != nil {
				return err
			}
		}
	}
	return nil
}

// holidays sends the active care campaigns of the day (each in its own
// calendar) to the opted-in contacts of customers in the campaign's tiers,
// in each contact's language.
func (r *run) holidays() error {
	for _, day := range r.days() {
		campaigns, err := r.campaignsOn(day)
		if err != nil {
			return err
		}
		for _, camp := range campaigns {
			tiers := camp.GetStringSlice("tiers")
			if len(tiers) == 0 {
				tiers = crm.Tiers
			}
			// contacts already greeted for this campaign and day are left out in
			// SQL (through the unique dedup key), so that each run during the
			// window only considers the ones still to do
			var rows []recipient
			err := r.app.DB().NewQuery(`SELECT ` + recipientColumns + `
				FROM contacts ct JOIN customers c ON c.id = ct.customer LEFT JOIN users u ON u.id = c.owner
				WHERE c.tier IN (SELECT value FROM json_each({:tiers}))
				AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedup_key = {:prefix} || ct.id || {:suffix})`).
				Bind(dbx.Params{"tiers": jsonList(tiers), "prefix": "holiday:" + camp.Id + ":", "suffix": ":" + day.String()}).All(&rows)
			if err != nil {
				return fmt.Errorf("campaign %s: %w", camp.Id, err)
			}
			for _, c := range rows {
				title, body, err := r.words(crm.KindHolidayGreeting, camp.Id, c, camp.GetString("title"), camp.GetString("body"))
				if err != nil {
					return err
				}
				key := fmt.Sprintf("holiday:%s:%s:%s", camp.Id, c.ID, day)
				if err := r.greet(c, day, care.HolidayWindow, crm.KindHolidayGreeting, key, title, body, camp.GetString("name")); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// campaignsOn lists the active campaigns celebrated on day, each in its
// own calendar (a Gregorian 29 February on 28 February of common years).
func (r *run) campaignsOn(day care.Date) ([]*core.Record, error) {
	var ids []string
	err := r.app.DB().NewQuery(`SELECT id FROM ` + crm.CareCampaigns + ` WHERE active = TRUE AND (
		(calendar != 'lunar' AND date IN (SELECT value FROM json_each({:gregorian}))) OR
		(calendar = 'lunar' AND date IN (SELECT value FROM json_each({:lunar})))) ORDER BY id`).
		Bind(dbx.Params{"gregorian": jsonList(care.CelebratedOn(day)), "lunar": jsonList(care.LunarCelebratedOn(day))}).Column(&ids)
	if err != nil {
		return nil, fmt.Errorf("campaigns on %s: %w", day, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return r.app.FindRecordsByIds(crm.CareCampaigns, ids)
}
