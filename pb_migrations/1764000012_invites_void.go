package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"rounds/crm"
)

// Invites die for good when their customer changes owner: care_invites
// gains voided_at, set on every unused invite of the customer's contacts
// when the customer is handed over (or a contact moves to another
// customer). Comparing the current owner with the invite's rep alone let an
// invite work again once the customer came back.
func init() {
	m.Register(func(app core.App) error {
		invites, err := app.FindCollectionByNameOrId(crm.CareInvites)
		if err != nil {
			return err
		}
		invites.Fields.Add(&core.DateField{Name: "voided_at", Help: "when the invite stopped working because its customer changed owner"})
		return app.Save(invites)
	}, func(app core.App) error {
		invites, err := app.FindCollectionByNameOrId(crm.CareInvites)
		if err != nil {
			return err
		}
		invites.Fields.RemoveByName("voided_at")
		return app.Save(invites)
	})
}
