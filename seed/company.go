package seed

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"
	"golang.org/x/crypto/bcrypt"

	"rounds/care"
	"rounds/crm"
)

var (
	firstNames = []string{"Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
		"Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yara", "Zoe", "Liam", "Maya", "Noah"}
	lastNames = []string{"Keller", "Okafor", "Silva", "Tanaka", "Novak", "Haddad", "Larsen", "Moreau", "Rossi", "Schmidt",
		"Nguyen", "Kowalski", "Patel", "Garcia", "Brown", "Yilmaz", "Costa", "Fischer", "Ito", "Dubois", "Walsh", "Kim"}
	shopKinds = []string{"Bakery", "Pharmacy", "Hardware", "Cafe", "Grocery", "Clinic", "Salon", "Garage", "Florist",
		"Books", "Deli", "Opticians", "Kiosk", "Bistro", "Pet Shop"}
	titles      = []string{"Owner", "Store Manager", "Buyer", "Head of Purchasing", "Assistant Manager", "Accountant"}
	purposes    = []string{"Quarterly review", "New range presentation", "Restock", "Complaint follow-up", "Introduce promotion", "Contract renewal"}
	outcomes    = []string{"Ordered the usual", "Interested in the new range", "Wants a sample", "No order this time", "Asked for a better price", "Very happy with service"}
	notesText   = []string{"Prefers morning visits.", "Parking behind the shop.", "Ask for the owner, not the clerk.", "Pays on time.", "Seasonal business, busy in summer.", ""}
	followNote  = []string{"Send price list", "Bring samples of the new range", "Call about the delivery date", "Check the display stand", "Confirm the discount with the office"}
	productKind = []string{"Coffee Beans", "Paper Cups", "Cleaning Spray", "Olive Oil", "Sparkling Water", "Chocolate Bar", "Hand Soap",
		"Notebook", "Batteries", "Tea Selection", "Granola", "Dog Treats", "Light Bulbs", "Napkins", "Honey"}
	productSize = []string{"Small", "Medium", "Large", "Family Pack", "Case of 12", "Case of 24"}
)

// users writes the managers and the reps; every demo user shares one
// bcrypt hash so that large seeds do not spend minutes hashing.
func (g *generator) users() error {
	hash, err := bcrypt.GenerateFromPassword([]byte(g.opts.Password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	b := g.newBatch()
	created := ts(g.day(-365))
	row := func(id, email, name, role, manager, tz string) dbx.Params {
		return dbx.Params{
			"id": id, "email": email, "emailVisibility": false, "verified": true, "password": string(hash),
			"tokenKey": g.id() + g.id(), "name": name, "role": role, "manager": manager, "timezone": tz,
			"active": true, "created": created, "updated": created,
		}
	}
	for i := 1; i <= g.opts.Managers; i++ {
		id := g.id()
		g.managers = append(g.managers, id)
		home := cities[(i-1)%len(cities)]
		if err := b.add(crm.Users, row(id, ManagerEmail(i), g.personName(), crm.RoleManager, "", home.tz)); err != nil {
			return err
		}
	}
	for i := 1; i <= g.opts.Reps; i++ {
		r := rep{id: g.id(), home: cities[(i-1)%len(cities)]}
		g.reps = append(g.reps, r)
		manager := g.managers[(i-1)%len(g.managers)]
		if err := b.add(crm.Users, row(r.id, RepEmail(i), g.personName(), crm.RoleRep, manager, r.home.tz)); err != nil {
			return err
		}
	}
	// a couple of devices per rep, for the push outbox and the sync log
	for i, r := range g.reps {
		for d := 0; d < 1+i%2; d++ {
			synced := ts(g.day(0).Add(-time.Duration(g.rng.IntN(72)) * time.Hour))
			err := b.add(crm.Devices, dbx.Params{
				"id": g.id(), "user": r.id, "token": "demo-fcm-" + g.id() + g.id(), "platform": []string{"android", "ios"}[d%2],
				"app_version": "1.4.2", "last_sync_at": synced, "created": created, "updated": created,
			})
			if err != nil {
				return err
			}
			device := fmt.Sprintf("demo-device-%d-%d", i+1, d+1)
			row := dbx.Params{
				"id": g.id(), "user": r.id, "device_id": device,
				"last_pull_at": synced, "last_push_at": synced, "last_sync_at": synced,
				"user_agent": "RoundsApp/1.4.2", "refused": 0, "stuck_since": "", "created": created, "updated": created,
			}
			if i == 1 && d == 1 { // one phone is stuck: its push keeps sending a line of a submitted order (stuck_devices)
				since, last := ts(g.day(-1).Add(15*time.Hour)), ts(g.day(-1).Add(31*time.Hour))
				row["refused"], row["stuck_since"], row["last_push_at"], row["last_sync_at"] = 1, since, last, last
				err = b.add(crm.SyncConflicts, dbx.Params{
					"id": idFrom(g.side), "collection": crm.OrderLines, "record_id": idFrom(g.side), "field": "", "server_value": "null",
					"client_value": `{"quantity":2}`, "resolution": "rejected", "user": r.id, "device": device,
					"rule": "order " + idFrom(g.side) + " is submitted: its lines can no longer change", "count": 1 + g.side.IntN(20),
					"last_seen_at": last, "created": since, "updated": last,
				})
				if err != nil {
					return err
				}
			}
			if err = b.add(crm.SyncDevices, row); err != nil {
				return err
			}
		}
	}
	return b.flush()
}

// names keeps the demo's names unique across the company: no two users
// share a first or a last name (while the lists last), no contact has a
// user's first name or another person's full name, no two customers share
// a name. It takes the generator's draws as they were and steps from
// them to the next free name, so the rest of a seed's data does not move.
type names struct {
	userFirst, userLast, full, shops map[string]bool
}

func newNames() *names {
	return &names{userFirst: map[string]bool{}, userLast: map[string]bool{}, full: map[string]bool{}, shops: map[string]bool{}}
}

// user is a user's name from the drawn list positions.
func (n *names) user(fi, li int) string {
	first := step(firstNames, fi, func(f string) bool { return !n.userFirst[f] })
	last := step(lastNames, li, func(l string) bool { return !n.userLast[l] && !n.full[first+" "+l] })
	n.userFirst[first], n.userLast[last], n.full[first+" "+last] = true, true, true
	return first + " " + last
}

// contact is a contact's first and last name (the last with a middle
// initial, or a number, once the plain pairs are taken).
func (n *names) contact(fi, li int) (string, string) {
	for k := 0; k < len(firstNames)*len(lastNames)*27; k++ {
		first := firstNames[(fi+k)%len(firstNames)]
		last := lastNames[(li+k/len(firstNames))%len(lastNames)]
		if i := k / (len(firstNames) * len(lastNames)); i > 0 {
			last = string(rune('A'+i-1)) + ". " + last
		}
		if !n.userFirst[first] && !n.full[first+" "+last] {
			n.full[first+" "+last] = true
			return first, last
		}
	}
	first, last := firstNames[fi], lastNames[li]
	for i := 2; ; i++ {
		if l := fmt.Sprintf("%s %d", last, i); !n.full[first+" "+l] {
			n.full[first+" "+l] = true
			return first, l
		}
	}
}

// shop is a customer's name: a family name and a kind of shop.
func (n *names) shop(li, ki int) string {
	for k := 0; k < len(lastNames)*len(shopKinds); k++ {
		name := lastNames[(li+k)%len(lastNames)] + " " + shopKinds[(ki+k/len(lastNames))%len(shopKinds)]
		if !n.shops[name] {
			n.shops[name] = true
			return name
		}
	}
	for i := 2; ; i++ {
		if name := fmt.Sprintf("%s %s %d", lastNames[li], shopKinds[ki], i); !n.shops[name] {
			n.shops[name] = true
			return name
		}
	}
}

// step is the first entry of list from i on (wrapping) that ok accepts;
// list[i] when none does.
func step(list []string, i int, ok func(string) bool) string {
	for k := range list {
		if v := list[(i+k)%len(list)]; ok(v) {
			return v
		}
	}
	return list[i]
}

func (g *generator) personName() string {
	fi := g.rng.IntN(len(firstNames))
	return g.names.user(fi, g.rng.IntN(len(lastNames)))
}

func (g *generator) products() error {
	b := g.newBatch()
	created := ts(g.day(-400))
	for i := 1; i <= g.opts.Products; i++ {
		p := product{id: g.id(), cents: int64(150 + g.rng.IntN(49850))}
		active := i%10 != 0 // every tenth product is discontinued
		if active {
			g.catalog = append(g.catalog, p)
		}
		name := fmt.Sprintf("%s %s", productKind[(i-1)%len(productKind)], productSize[(i-1)/len(productKind)%len(productSize)])
		err := b.add(crm.Products, dbx.Params{
			"id": p.id, "sku": fmt.Sprintf("SKU-%05d", i), "name": name, "unit_price": crm.Amount(p.cents),
			"currency": "EUR", "active": active, "created": created, "updated": created,
		})
		if err != nil {
			return err
		}
	}
	return b.flush()
}

func (g *generator) campaigns() error {
	// the birthday greeting's words come with the migrations: counted, so
	// that the summary says what the table holds
	shipped, err := g.app.CountRecords(crm.CareTemplates)
	if err != nil {
		return err
	}
	g.stats.Rows[crm.CareTemplates] += int(shipped)
	b := g.newBatch()
	created := ts(g.day(-200))
	list := []struct {
		name, calendar, date, title, body, tiers, zhTitle, zhBody string
	}{
		{"New Year", "gregorian", "01-01", "Happy New Year!", "Thank you for a great year together. All the best for the new one!", `[]`,
			"新年快乐！", "感谢您一年来的支持，祝您新年万事如意！"},
		{"Midsummer", "gregorian", "06-21", "Happy midsummer", "Enjoy the longest day of the year.", `["A","B"]`, "", ""},
		{"Partner day", "gregorian", "09-15", "Thank you, partner", "Our best customers make our year. Thank you.", `["A"]`, "", ""},
		{"Christmas", "gregorian", "12-25", "Season's greetings", "Warm wishes for the holidays from your Rounds team.", `[]`, "", ""},
		// the lunar ones, with their Chinese words (the side stream's ids: nothing else moves)
		{"Spring Festival 春节", "lunar", "01-01", "Happy Lunar New Year!", "Wishing you health and success in the new year.", `[]`,
			"新春快乐！", "恭祝{name}新春大吉，万事如意！"},
		{"Mid-Autumn Festival 中秋节", "lunar", "08-15", "Happy Mid-Autumn Festival", "May the full moon bring you and yours joy.", `["A","B"]`,
			"中秋快乐！", "花好月圆，祝{name}阖家幸福！"},
	}
	for i, c := range list {
		id := g.id()
		if i >= 4 {
			id = idFrom(g.side)
		}
		err := b.add(crm.CareCampaigns, dbx.Params{
			"id": id, "name": c.name, "calendar": c.calendar, "date": c.date, "title": c.title, "body": c.body, "tiers": c.tiers,
			"active": true, "created": created, "updated": created,
		})
		if err != nil {
			return err
		}
		if c.zhTitle != "" {
			err := b.add(crm.CareTemplates, dbx.Params{"id": idFrom(g.side), "kind": crm.KindHolidayGreeting, "campaign": id, "language": "zh-CN",
				"title": c.zhTitle, "body": c.zhBody, "created": created, "updated": created})
			if err != nil {
				return err
			}
		}
	}
	return b.flush()
}

// quotas gives every rep a monthly target from six months back to three
// ahead, near a twelfth of what they closed in the last year (from its own
// random stream, so that nothing else moves).
func (g *generator) quotas() error {
	var rows []struct {
		Rep   string  `db:"rep"`
		Total float64 `db:"total"`
	}
	if err := g.app.DB().NewQuery(`SELECT rep, SUM(total) AS total FROM orders WHERE status IN ('confirmed', 'fulfilled')
		AND submitted_at >= {:since} GROUP BY rep`).Bind(dbx.Params{"since": ts(g.day(-365))}).All(&rows); err != nil {
		return err
	}
	yearly := map[string]float64{}
	for _, r := range rows {
		yearly[r.Rep] = r.Total
	}
	b := g.newBatch()
	created := ts(g.day(-200))
	today := g.day(0)
	for _, r := range g.reps {
		monthly := math.Max(1000, math.Round(yearly[r.id]/12*(0.9+0.4*g.side.Float64())/1000)*1000)
		for m := -6; m <= 3; m++ {
			start := time.Date(today.Year(), today.Month()+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
			err := b.add(crm.Quotas, dbx.Params{"id": idFrom(g.side), "rep": r.id, "period_start": ts(start), "period_end": ts(start.AddDate(0, 1, -1)),
				"amount": monthly, "currency": "EUR", "created": created, "updated": created})
			if err != nil {
				return err
			}
		}
	}
	return b.flush()
}

// local returns the time at hour:minute on day offset in tz.
func (g *generator) local(offset, hour, minute int, loc *time.Location) time.Time {
	d := g.day(offset)
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, 0, 0, loc)
}

// birthday draws a day of the year, 29 February at its natural rarity.
func (g *generator) birthday() string {
	doy := g.rng.IntN(366)
	d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, doy) // 2024 is a leap year
	return d.Format("01-02")
}

// customers writes the customers and everything that hangs off them, one
// customer at a time so that memory stays flat for any size.
func (g *generator) customers() error {
	b := g.newBatch()
	locs := map[string]*time.Location{}
	for _, c := range cities {
		loc, err := time.LoadLocation(c.tz)
		if err != nil {
			return err
		}
		locs[c.tz] = loc
	}
	statusRoll := []string{"draft", "submitted", "submitted", "confirmed", "confirmed", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "cancelled"}
	tierRoll := []string{"A", "B", "B", "C", "C", "C"}

	for ci := 0; ci < g.opts.Customers; ci++ {
		r := g.reps[ci%len(g.reps)]
		loc := locs[r.home.tz]
		cust := dbx.Params{
			"id": g.id(), "owner": r.id,
			"name":     g.names.shop(g.rng.IntN(len(lastNames)), g.rng.IntN(len(shopKinds))),
			"phone":    fmt.Sprintf("+%d %03d %04d", 1+g.rng.IntN(98), g.rng.IntN(1000), g.rng.IntN(10000)),
			"email":    "",
			"address":  fmt.Sprintf("%d Market Street, %s", 1+g.rng.IntN(200), r.home.name),
			"lat":      round6(r.home.lat + (g.rng.Float64()-0.5)*0.4),
			"lng":      round6(r.home.lng + (g.rng.Float64()-0.5)*0.4),
			"timezone": r.home.tz, "tier": g.pick(tierRoll), "notes": g.pick(notesText),
		}
		custID := cust["id"].(string)
		cust["email"] = "orders@" + strings.ToLower(strings.ReplaceAll(cust["name"].(string), " ", "-")) + ".example"
		since := g.day(-300 + g.rng.IntN(200))
		cust["created"], cust["updated"] = ts(since), ts(since)
		if err := b.add(crm.Customers, cust); err != nil {
			return err
		}
		shop := crm.Point{Lat: cust["lat"].(float64), Lng: cust["lng"].(float64)}

		// contacts
		nContacts := max(1, g.around(g.opts.ContactsPerCustomer))
		if g.opts.ContactsPerCustomer == 0 {
			nContacts = 0
		}
		contacts := make([]string, 0, nContacts)
		var greeted []greetedContact
		for k := 0; k < nContacts; k++ {
			id := g.id()
			contacts = append(contacts, id)
			bday := g.birthday()
			if k == 0 && ci < len(g.reps) {
				bday = g.day(0).Format("01-02") // every rep has a customer's birthday today
			}
			birthYear := 0
			if g.rng.IntN(3) > 0 {
				birthYear = 1950 + g.rng.IntN(55)
			}
			tz := ""
			if g.rng.IntN(10) == 0 {
				tz = cities[g.rng.IntN(len(cities))].tz // travels or lives elsewhere
			}
			optIn := g.rng.IntN(2) == 0
			fi := g.rng.IntN(len(firstNames))
			first, last := g.names.contact(fi, g.rng.IntN(len(lastNames)))
			// one contact in five reads Chinese (the side stream: nothing else
			// moves); birthdays stay Gregorian, as the phones read them until
			// the synced schema carries birthday_calendar
			lang, cal := "en", "gregorian"
			if g.side.IntN(5) == 0 {
				lang = "zh-CN"
			}
			// consent as the rules have it: a date and a method for those who
			// opted in, and some who said stop (side stream again)
			consentAt, method, optedOut := "", "", ""
			title := g.pick(titles) // in the order the draws always came
			phone := fmt.Sprintf("+%d %03d %04d", 1+g.rng.IntN(98), g.rng.IntN(1000), g.rng.IntN(10000))
			channel := g.pick([]string{"push", "push", "email", "phone", "sms"})
			if optIn || g.side.IntN(4) == 0 {
				at := since.Add(time.Duration(g.side.IntN(30*24)) * time.Hour)
				consentAt, method = ts(at), []string{"invite link, registered a phone", "e-mail confirmed (double opt-in)", "preferences link"}[g.side.IntN(3)]
				if !optIn {
					optedOut = ts(g.past(at.Add(time.Duration(1+g.side.IntN(90*24)) * time.Hour)))
				}
			}
			if optIn && len(greeted) < 3 && k > 0 && (channel == "push" || channel == "email") {
				greeted = append(greeted, greetedContact{id, channel, bday, consentAt, lang})
			}
			err := b.add(crm.Contacts, dbx.Params{
				"language": lang, "birthday_calendar": cal,
				"consent_at": consentAt, "consent_method": method, "opted_out_at": optedOut,
				"id": id, "customer": custID, "name": first + " " + last, "title": title, "phone": phone,
				"email":    strings.ToLower(first+"."+strings.NewReplacer(". ", "", " ", "").Replace(last)) + "@example.com",
				"birthday": bday, "birth_year": birthYear, "care_opt_in": optIn,
				"preferred_channel": channel, "timezone": tz,
				"created": ts(since), "updated": ts(since),
			})
			if err != nil {
				return err
			}
			if optIn && g.rng.IntN(3) == 0 {
				err := b.add(crm.ContactDevices, dbx.Params{
					"id": g.id(), "contact": id, "token": "demo-fcm-" + g.id() + g.id(), "platform": g.pick([]string{"android", "ios"}),
					"created": ts(since), "updated": ts(since),
				})
				if err != nil {
					return err
				}
			}
		}
		contactOf := func() string {
			if len(contacts) == 0 {
				return ""
			}
			return contacts[g.rng.IntN(len(contacts))]
		}

		// visits
		var pastVisits []string
		var pastTimes []time.Time
		for k, n := 0, g.around(g.opts.VisitsPerCustomer); k < n; k++ {
			id := g.id()
			offset := -90 + g.rng.IntN(105)
			planned := g.local(offset, 8+g.rng.IntN(10), 15*g.rng.IntN(4), loc)
			v := dbx.Params{
				"id": id, "customer": custID, "contact": contactOf(), "rep": r.id, "planned_at": ts(planned),
				"checked_in_at": "", "checked_out_at": "", "check_in_lat": 0.0, "check_in_lng": 0.0,
				"purpose": g.pick(purposes), "outcome": "", "notes": "", "geo_status": crm.GeoUnknown,
				"created": ts(g.past(planned.AddDate(0, 0, -7))), "updated": ts(g.past(planned.AddDate(0, 0, -7))),
			}
			if offset < 0 {
				in := planned.Add(time.Duration(g.rng.IntN(20)) * time.Minute)
				out := in.Add(time.Duration(20+g.rng.IntN(60)) * time.Minute)
				v["checked_in_at"], v["checked_out_at"], v["outcome"], v["updated"] = ts(in), ts(out), g.pick(outcomes), ts(out)
				if g.rng.IntN(5) == 0 {
					v["notes"] = g.pick(notesText)
				}
				var at crm.Point
				switch roll := g.rng.IntN(10); {
				case roll < 8: // in the shop
					at = crm.Point{Lat: shop.Lat + (g.rng.Float64()-0.5)*0.002, Lng: shop.Lng + (g.rng.Float64()-0.5)*0.002}
				case roll < 9: // checked in from the car park down the road, or from home
					at = crm.Point{Lat: shop.Lat + 0.01 + g.rng.Float64()*0.03, Lng: shop.Lng}
				}
				v["check_in_lat"], v["check_in_lng"] = round6(at.Lat), round6(at.Lng)
				v["geo_status"] = crm.GeoStatus(crm.Point{Lat: v["check_in_lat"].(float64), Lng: v["check_in_lng"].(float64)}, shop)
				pastVisits = append(pastVisits, id)
				pastTimes = append(pastTimes, out)
			}
			if err := b.add(crm.Visits, v); err != nil {
				return err
			}
		}

		// follow-ups
		for k, n := 0, g.around(g.opts.FollowUpsPerCustomer); k < n; k++ {
			offset := -10 + g.rng.IntN(32)
			due := g.local(offset, 9+g.rng.IntN(8), 0, loc)
			status := "open"
			if offset < 0 {
				status = []string{"done", "done", "done", "done", "done", "done", "cancelled", "open", "open", "open"}[g.rng.IntN(10)]
			}
			visit := ""
			if len(pastVisits) > 0 && g.rng.IntN(2) == 0 {
				visit = pastVisits[g.rng.IntN(len(pastVisits))]
			}
			err := b.add(crm.FollowUps, dbx.Params{
				"id": g.id(), "customer": custID, "contact": contactOf(), "visit": visit, "assignee": r.id, "promised_by": r.id,
				"due_at": ts(due), "note": g.pick(followNote), "status": status,
				"created": ts(g.past(due.AddDate(0, 0, -7))), "updated": ts(g.past(due.AddDate(0, 0, -7))),
			})
			if err != nil {
				return err
			}
		}

		if err := g.opportunities(b, custID, r.id, loc); err != nil {
			return err
		}

		// orders and their lines; a few customers buy far more than the
		// rest (a Pareto spread, from the funnel's stream so that the rest
		// of the data stays as it was), so that tiers come out A, B, C
		size := g.customerSize()
		for k, n := 0, g.around(g.opts.OrdersPerCustomer); k < n; k++ {
			id := g.id()
			status := g.pick(statusRoll)
			visit, at := "", g.local(-g.rng.IntN(90), 10, 0, loc)
			if len(pastVisits) > 0 && g.rng.IntN(10) < 7 {
				j := g.rng.IntN(len(pastVisits))
				visit, at = pastVisits[j], pastTimes[j]
			}
			var totalCents int64
			nLines := max(1, g.around(g.opts.LinesPerOrder))
			if g.opts.LinesPerOrder == 0 {
				nLines = 0
			}
			for l := 0; l < nLines; l++ {
				p := g.catalog[g.rng.IntN(len(g.catalog))]
				qty := int64(1+g.rng.IntN(24)) * size
				discount := []float64{0, 0, 0, 5, 10, 12.5}[g.rng.IntN(6)]
				cents := crm.LineTotalCents(p.cents, qty, discount)
				totalCents += cents
				err := b.add(crm.OrderLines, dbx.Params{
					"id": g.id(), "order": id, "product": p.id, "quantity": qty, "discount_pct": discount,
					"unit_price": crm.Amount(p.cents), "line_total": crm.Amount(cents),
					"created": ts(at), "updated": ts(at),
				})
				if err != nil {
					return err
				}
			}
			submitted := ""
			if status != crm.StatusDraft && !(status == crm.StatusCancelled && k%2 == 0) {
				submitted = ts(at.Add(5 * time.Minute))
			}
			err := b.add(crm.Orders, dbx.Params{
				"id": id, "customer": custID, "rep": r.id, "visit": visit, "status": status, "currency": "EUR",
				"total": crm.Amount(totalCents), "notes": "", "submitted_at": submitted,
				"created": ts(at), "updated": ts(g.past(at.Add(time.Duration(g.rng.IntN(72)) * time.Hour))),
			})
			if err != nil {
				return err
			}
		}

		// a little history for the outbox: last year's birthday greetings to
		// contacts who had opted in by then, on their birthday, by their channel
		if ci < 3*len(g.reps) && len(contacts) > 0 {
			g.rng.IntN(30) // the draws the old history made: nothing else moves
			g.id()
			for _, c := range greeted {
				day, ok := lastBirthday(c.birthday, g.day(0))
				consent, _ := time.Parse(types.DefaultDateLayout, c.consentAt)
				if !ok || day.Before(consent) || day.Before(since) {
					continue
				}
				title, body := "Happy birthday!", "All the best from your Rounds team."
				if c.lang == "zh-CN" {
					title, body = "生日快乐！", "祝您生日快乐，万事如意。"
				}
				at := ts(day.Add(9 * time.Hour))
				err := b.add(crm.Notifications, dbx.Params{
					"id": idFrom(g.side), "kind": "birthday_greeting", "audience": "customer", "user": "", "contact": c.id,
					"dedup_key": fmt.Sprintf("birthday:%s:%s", c.id, day.Format(time.DateOnly)), "channel": c.channel,
					"title": title, "body": body, "status": "sent", "data": fmt.Sprintf(`{"language":%q}`, c.lang),
					"attempts": 1, "next_attempt_at": "", "sent_at": at, "error": "", "created": at, "updated": at,
				})
				if err != nil {
					return err
				}
			}
		}
		if ci < len(g.reps) {
			day := g.day(-g.rng.IntN(20))
			err := b.add(crm.SyncConflicts, dbx.Params{
				"id": g.id(), "collection": crm.Customers, "record_id": custID, "field": "phone",
				"server_value": `"+49 30 1234567"`, "client_value": `"+49 30 7654321"`, "resolution": "server",
				"rule": "latest edit wins: the admin's edit was later than the device's", "user": r.id, "device": "demo-device",
				"count": 1, "last_seen_at": ts(day), "created": ts(day), "updated": ts(day),
			})
			if err != nil {
				return err
			}
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	g.progress(true)
	return nil
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// greetedContact is a contact the demo's outbox greeted last year.
type greetedContact struct{ id, channel, birthday, consentAt, lang string }

// lastBirthday is the latest day before today that celebrates an MM-DD
// birthday (29 February on 28 February in common years).
func lastBirthday(mmdd string, today time.Time) (time.Time, bool) {
	for d := today.AddDate(0, 0, -1); d.After(today.AddDate(-1, 0, -2)); d = d.AddDate(0, 0, -1) {
		if slices.Contains(care.CelebratedOn(care.DateOf(d)), mmdd) {
			return d, true
		}
	}
	return time.Time{}, false
}
