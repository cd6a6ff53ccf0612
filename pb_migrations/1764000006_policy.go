package pb_migrations

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
	"rounds/policy"
)

// The access policy: every collection's API rules are derived from
// policy.Specs (the rules written by the earlier migrations matched when
// both sides of a comparison were empty, so anonymous callers read the
// customers of reps without a manager). Also care_invites, which makes
// customer invites single-use.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId(crm.Users)
		if err != nil {
			return err
		}
		contacts, err := app.FindCollectionByNameOrId(crm.Contacts)
		if err != nil {
			return err
		}
		invites := core.NewBaseCollection(crm.CareInvites)
		invites.Fields.Add(
			&core.RelationField{Name: "contact", CollectionId: contacts.Id, Required: true, CascadeDelete: true, MaxSelect: 1},
			&core.RelationField{Name: "rep", CollectionId: users.Id, Required: true, CascadeDelete: true, MaxSelect: 1},
			&core.DateField{Name: "issued_at", Required: true},
			&core.DateField{Name: "expires_at", Required: true},
			&core.DateField{Name: "used_at"},
		)
		timestamps(invites)
		invites.AddIndex("idx_care_invites_contact", false, "contact", "")
		if err := app.Save(invites); err != nil {
			return fmt.Errorf("create %s: %w", crm.CareInvites, err)
		}
		return ApplyPolicy(app)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId(crm.CareInvites); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		return nil // the earlier rules are not restored: they leaked
	})
}

// ApplyPolicy sets the API rules of every collection of the policy as
// policy.Specs declares them. Migrations call it after any change of the
// policy; a collection a later migration creates is skipped here (that
// migration applies the policy again).
func ApplyPolicy(app core.App) error {
	return applyPolicy(app, hasScope(app.DB()))
}

// applyPolicy sets the rules, comparing the scope columns when scoped.
func applyPolicy(app core.App, scoped bool) error {
	for _, s := range policy.Specs {
		c, err := app.FindCollectionByNameOrId(s.Name)
		if err != nil {
			continue
		}
		if !scoped {
			s = s.WithoutScopeColumns() // a migration before the scope columns
		}
		c.ListRule = s.Rule(policy.List)
		c.ViewRule = s.Rule(policy.View)
		c.CreateRule = s.Rule(policy.Create)
		c.UpdateRule = s.Rule(policy.Update)
		c.DeleteRule = s.Rule(policy.Delete)
		if err := app.Save(c); err != nil {
			return fmt.Errorf("policy: rules of %s: %w", s.Name, err)
		}
	}
	return nil
}
