// Package reminders is the `reminders` job: every minute it decides, in
// each recipient's local time, which follow-up reminders, morning digests,
// birthday greetings and holiday greetings are due, writes each once to
// the outbox under a unique dedup key, and delivers the outbox.
package reminders

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"rounds/care"
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
	for _, step := range []func() error{r.followUps, r.digests, r.birthdays, r.holidays} {
		if err := step(); err != nil {
			return r.stats, err
		}
	}
	var err error
	r.stats.Delivery, err = push.Deliver(ctx, app, cfg.Sender, now, cfg.DeliverLimit)
	return r.stats, err
}

type run struct {
	ctx   context.Context
	app   core.App
	now   time.Time
	cfg   Config
	stats Stats
}

// notification is an outbox row to write.
type notification struct {
	Kind, Audience, User, Contact, DedupKey, Title, Body string
	Channel                                              string // "" is push
	Data                                                 map[string]any
	ExpiresAt                                            time.Time
	Status, Reason                                       string // "" means pending
}

// exists reports whether a dedup key is already in the outbox.
func (r *run) exists(key string) (bool, error) {
	var n int
	err := r.app.DB().NewQuery("SELECT COUNT(*) FROM notifications WHERE dedup_key = {:k}").Bind(dbx.Params{"k": key}).Row(&n)
	return n > 0, err
}

// enqueue writes n once; callers have checked that its dedup key is new
// (exists), and a key written meanwhile by another runner is caught by the
// unique index.
func (r *run) enqueue(n notification) error {
	c, err := r.app.FindCachedCollectionByNameOrId(crm.Notifications)
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
	if err := r.app.Save(rec); err != nil {
		if ok, _ := r.exists(n.DedupKey); ok {
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
		WHERE f.status = 'open' AND f.due_at >= {:from} AND f.due_at <= {:to}`).
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
		if err := r.enqueue(n); err != nil {
			return err
		}
	}
	return nil
}

const dateLayout = "2006-01-02 15:04:05.000Z"

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
		err = r.enqueue(notification{
			Kind: "rep_digest", Audience: "rep", User: rep.ID, DedupKey: key,
			Title: "Your day", Body: body, ExpiresAt: care.EndOfDay(local),
			Data: map[string]any{"today": today, "overdue": overdue, "birthdays_tomorrow": len(birthdays),
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
	QuietStart   string `db:"quiet_start"`
	QuietEnd     string `db:"quiet_end"`
	WeeklyMax    int    `db:"weekly_max"`
	Language     string `db:"language"`
	Birthday     string `db:"birthday"`
	Calendar     string `db:"birthday_calendar"`
	Channel      string `db:"preferred_channel"`
	Email        string `db:"email"`
	EmailStopped string `db:"email_stopped_at"`
}

const recipientColumns = `ct.id, ct.name, ct.timezone AS contact_tz, c.timezone AS customer_tz, COALESCE(u.timezone, '') AS rep_tz,
	COALESCE(u.name, '') AS rep_name, ct.quiet_start, ct.quiet_end, ct.weekly_max, ct.language, ct.birthday, ct.birthday_calendar,
	ct.preferred_channel, ct.email, ct.email_stopped_at`

// greet decides and enqueues one greeting for a contact whose day it is.
func (r *run) greet(c recipient, day care.Date, window care.Window, kind, key, title, body string) error {
	loc := care.Zone(r.cfg.DefaultZone, c.ContactZone, c.CustomerZone, c.RepZone)
	local := r.now.In(loc)
	if care.DateOf(local) != day {
		return nil // not this contact's day (yet, or any more)
	}
	if ok, err := r.exists(key); err != nil || ok {
		return err
	}
	g := care.Greeting{Window: window, WeeklyMax: c.WeeklyMax}
	if s, err := care.ParseClock(c.QuietStart); err == nil {
		if e, err := care.ParseClock(c.QuietEnd); err == nil {
			g.Quiet = care.Quiet{Start: s, End: e}
		}
	}
	if c.WeeklyMax > 0 {
		if err := r.app.DB().NewQuery(`SELECT COUNT(*) FROM notifications WHERE contact = {:c} AND audience = 'customer'
			AND (status = 'pending' OR (status = 'sent' AND sent_at >= {:since}))`).
			Bind(dbx.Params{"c": c.ID, "since": r.now.Add(-7 * 24 * time.Hour).Format(dateLayout)}).Row(&g.SentThisWeek); err != nil {
			return err
		}
	}
	verdict, reason := g.Decide(local)
	if verdict == care.Wait {
		return nil
	}
	n := notification{Kind: kind, Audience: "customer", Contact: c.ID, DedupKey: key, Title: title, Body: body,
		ExpiresAt: care.EndOfDay(local), Data: map[string]any{"language": crm.LanguageOf(c.Language)}}
	if c.Channel == crm.ChannelEmail { // the customer reads e-mail: the greeting goes there, and only there
		n.Channel = crm.ChannelEmail
		switch {
		case verdict == care.Skip:
		case c.Email == "":
			verdict, reason = care.Skip, "no e-mail address"
		case c.EmailStopped != "":
			verdict, reason = care.Skip, "mail to this address was stopped after the mail server refused it for good"
		}
		if r.cfg.UnsubscribeURL != nil {
			u, err := r.cfg.UnsubscribeURL(c.ID)
			if err != nil {
				return err
			}
			n.Data["unsubscribe_url"] = u
		}
	}
	if verdict == care.Skip {
		n.Status, n.Reason = push.Skipped, reason
	}
	if r.cfg.PreferencesURL != nil {
		u, err := r.cfg.PreferencesURL(c.ID)
		if err != nil {
			return err
		}
		n.Data["preferences_url"] = u
	}
	return r.enqueue(n)
}

// Recipient is a contact who may get a greeting, with what decides when.
type Recipient = recipient

// SelectBirthdays returns the opted-in contacts who celebrate a birthday on
// day, each in their own calendar: 29 February birthdays on 28 February of
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
		WHERE ct.birthday IN (SELECT value FROM json_each({:keys})) AND ct.care_opt_in = TRUE`).
		Bind(dbx.Params{"keys": jsonList(append(slices.Clone(gregorian), lunar...))}).All(&rows)
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

// words is a greeting's title and body for a contact, in their language:
// the campaign's template for it, else the kind's, else the fallback.
func (r *run) words(kind, campaign string, c recipient, fallbackTitle, fallbackBody string) (title, body string, err error) {
	lang := crm.LanguageOf(c.Language)
	var t []struct {
		Title string `db:"title"`
		Body  string `db:"body"`
	}
	err = r.app.DB().NewQuery(`SELECT title, body FROM ` + crm.CareTemplates + `
		WHERE kind = {:k} AND language = {:l} AND (campaign = {:c} OR campaign = '') ORDER BY campaign = '' LIMIT 1`).
		Bind(dbx.Params{"k": kind, "l": lang, "c": campaign}).All(&t)
	if err != nil {
		return "", "", fmt.Errorf("care templates: %w", err)
	}
	title, body = fallbackTitle, fallbackBody
	if len(t) > 0 {
		title, body = t[0].Title, t[0].Body
	}
	return crm.Fill(title, lang, c.Name, c.RepName), crm.Fill(body, lang, c.Name, c.RepName), nil
}

// birthdays greets opted-in contacts on their birthday morning, in their
// calendar and language.
func (r *run) birthdays() error {
	for _, day := range care.DatesAround(r.now) {
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
			if err := r.greet(c, day, care.BirthdayWindow, crm.KindBirthdayGreeting, key, title, body); err != nil {
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
	for _, day := range care.DatesAround(r.now) {
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
				WHERE ct.care_opt_in = TRUE AND c.tier IN (SELECT value FROM json_each({:tiers}))
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
				if err := r.greet(c, day, care.HolidayWindow, crm.KindHolidayGreeting, key, title, body); err != nil {
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
