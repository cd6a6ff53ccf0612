package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Consent by e-mail (issue 25, fourth step): an invite keeps the address a
// customer asked to be confirmed (email, email_sent_at), and care_templates
// gain the words of the confirmation and the welcome e-mails, in English
// and Chinese.
func init() {
	m.Register(func(app core.App) error {
		inv, err := app.FindCollectionByNameOrId(crm.CareInvites)
		if err != nil {
			return err
		}
		inv.Fields.Add(
			&core.EmailField{Name: "email", Help: "the address the customer asked to confirm (double opt-in)"},
			&core.DateField{Name: "email_sent_at"},
		)
		if err := app.Save(inv); err != nil {
			return fmt.Errorf("care_invites: %w", err)
		}
		t, err := app.FindCollectionByNameOrId(crm.CareTemplates)
		if err != nil {
			return err
		}
		kind, ok := t.Fields.GetByName("kind").(*core.SelectField)
		if !ok {
			return fmt.Errorf("care_templates.kind is missing")
		}
		kind.Values = []string{crm.KindBirthdayGreeting, crm.KindHolidayGreeting, crm.KindEmailConfirmation, crm.KindCareWelcome}
		if err := app.Save(t); err != nil {
			return fmt.Errorf("care_templates: %w", err)
		}
		for i, d := range crm.EmailTemplates {
			r := core.NewRecord(t)
			r.Id = fmt.Sprintf("caretemplate%03d", 101+i) // the same in every database
			r.Load(map[string]any{"kind": d.Kind, "language": d.Language, "title": d.Title, "body": d.Body})
			if err := app.Save(r); err != nil {
				return fmt.Errorf("care_templates: %w", err)
			}
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		if _, err := app.DB().NewQuery(`DELETE FROM care_templates WHERE kind IN ({:a}, {:b})`).
			Bind(map[string]any{"a": crm.KindEmailConfirmation, "b": crm.KindCareWelcome}).Execute(); err != nil {
			return err
		}
		inv, err := app.FindCollectionByNameOrId(crm.CareInvites)
		if err != nil {
			return err
		}
		inv.Fields.RemoveByName("email")
		inv.Fields.RemoveByName("email_sent_at")
		return app.Save(inv)
	})
}
