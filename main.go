// Command rounds is the Rounds server: PocketBase with the Rounds schema,
// access rules, invariants and commands.
package main

import (
	"log"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"

	"rounds/hooks"
	_ "rounds/pb_migrations"
	"rounds/seed"
)

func main() {
	app := pocketbase.New()

	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangGo,
		Dir:          "pb_migrations",
		Automigrate:  false, // the schema changes only through reviewed Go migrations
	})
	app.RootCmd.AddCommand(seed.Command(app))

	hooks.Register(app, hooks.Deps{})

	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}
