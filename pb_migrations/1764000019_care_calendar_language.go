package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
	rsync "rounds/sync"
)

// Care in the customer's calendar and language (issue 25, first step):
// contacts gain language (en, zh-CN) and birthday_calendar (gregorian,
// lunar); care_campaigns gain calendar, so that 春节 is lunar 01-01; and
// care_templates holds each greeting's words per language, which admins
// edit in the dashboard (a campaign's template overrides its own title
// and body for that language). The birthday greeting has defaults in both
// languages.
func init() {
	m.Register(func(app core.App) error {
		calendar := func(name string) *core.SelectField {
			return &core.SelectField{Name: name, Values: crm.Calendars, MaxSelect: 1, Help: "empty is gregorian"}
		}
		contacts, err := app.FindCollectionByNameOrId(crm.Contacts)
		if err != nil {
			return err
		}
		contacts.Fields.Add(
			&core.SelectField{Name: "language", Values: crm.Languages, MaxSelect: 1, Help: "of the care messages; empty is en"},
			calendar("birthday_calendar"),
		)
		if err := app.Save(contacts); err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
		campaigns, err := app.FindCollectionByNameOrId(crm.CareCampaigns)
		if err != nil {
			return err
		}
		campaigns.Fields.Add(calendar("calendar"))
		if err := app.Save(campaigns); err != nil {
			return fmt.Errorf("care_campaigns: %w", err)
		}

		t := core.NewBaseCollection(crm.CareTemplates)
		t.Fields.Add(
			&core.SelectField{Name: "kind", Values: []string{crm.KindBirthdayGreeting, crm.KindHolidayGreeting}, MaxSelect: 1, Required: true},
			&core.RelationField{Name: "campaign", CollectionId: campaigns.Id, MaxSelect: 1, CascadeDelete: true, Help: "a holiday greeting's campaign; empty: every campaign"},
			&core.SelectField{Name: "language", Values: crm.Languages, MaxSelect: 1, Required: true},
			&core.TextField{Name: "title", Required: true, Max: 200, Presentable: true, Help: "{first_name}, {name}, {rep}"},
			&core.TextField{Name: "body", Required: true, Max: 1000, Help: "{first_name}, {name}, {rep}"},
		)
		timestamps(t)
		t.AddIndex("idx_care_templates_kind", true, "kind, campaign, language", "")
		if err := app.Save(t); err != nil {
			return fmt.Errorf("care_templates: %w", err)
		}
		for i, d := range crm.DefaultTemplates {
			r := core.NewRecord(t)
			r.Id = fmt.Sprintf("caretemplate%03d", i+1) // the same in every database
			r.Load(map[string]any{"kind": d.Kind, "language": d.Language, "title": d.Title, "body": d.Body})
			if err := app.Save(r); err != nil {
				return fmt.Errorf("care_templates: %w", err)
			}
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		if t, err := app.FindCollectionByNameOrId(crm.CareTemplates); err == nil {
			if err := app.Delete(t); err != nil {
				return err
			}
		}
		// contacts' capture triggers name the synced columns (schema version 5)
		if err := rsync.DropTriggers(app.DB(), crm.Contacts); err != nil {
			return err
		}
		for name, fields := range map[string][]string{crm.Contacts: {"language", "birthday_calendar"}, crm.CareCampaigns: {"calendar"}} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			for _, f := range fields {
				c.Fields.RemoveByName(f)
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return rsync.InstallTriggers(app.DB(), crm.Contacts)
	})
}
