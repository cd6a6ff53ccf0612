// Command rounds is the Rounds server: PocketBase with the Rounds schema,
// access rules, invariants, sync, customer care and commands.
package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"

	"rounds/hooks"
	"rounds/loadtest"
	_ "rounds/pb_migrations"
	"rounds/push/fcm"
	"rounds/replica"
	"rounds/seed"
)

func main() {
	// `rounds restore` runs before PocketBase, which would create an empty
	// database in the directory it restores into
	if len(os.Args) > 1 && os.Args[1] == "restore" {
		cmd := replica.Command()
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		return
	}
	deps, err := config(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}

	app := pocketbase.NewWithConfig(pocketbase.Config{DBConnect: hooks.DBConnect})
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangGo,
		Dir:          "pb_migrations",
		Automigrate:  false, // the schema changes only through reviewed Go migrations
	})
	app.RootCmd.AddCommand(seed.Command(app))
	app.RootCmd.AddCommand(loadtest.Command())
	hooks.Register(app, deps)

	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// config reads the environment: FCM_* for push (none set: outbox-only
// mode), ROUNDS_TIMEZONE for people without a time zone (default UTC),
// ROUNDS_CARE_SECRET for customer links (default: generated and kept in
// the data directory), ROUNDS_PUBLIC_URL for the address in customer links
// (default: the dashboard's Application URL), ROUNDS_TERRITORY_GRACE_DAYS for how long a rep's
// offline work still lands under a customer handed to someone else
// (default 7; 0 turns it off), ROUNDS_PUSH_QUEUE for how many sync pushes
// may wait for their turn before one is answered 429 (default 250; 0 turns
// the queue off), ROUNDS_PUSH_SHARE for how many places in it one rep may
// hold (default 2; 0: no limit), ROUNDS_REPLICA_URL and ROUNDS_REPLICA_SYNC for continuous
// replication (default off), ROUNDS_MAP_TILES for the managers' map's tile server
// (default OpenStreetMap's).
func config(getenv func(string) string) (hooks.Deps, error) {
	var deps hooks.Deps
	if cfg, ok := fcm.FromEnv(getenv); ok {
		sender, err := fcm.New(context.Background(), cfg)
		if err != nil {
			return deps, err
		}
		deps.Sender = sender
	}
	if tz := getenv("ROUNDS_TIMEZONE"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return deps, err
		}
		deps.DefaultZone = loc
	}
	if s := getenv("ROUNDS_CARE_SECRET"); s != "" {
		deps.CareSecret = []byte(s)
	}
	if s := getenv("ROUNDS_PUBLIC_URL"); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return deps, fmt.Errorf("ROUNDS_PUBLIC_URL must be an http(s) URL such as https://rounds.example.com, got %q", s)
		}
		deps.PublicURL = strings.TrimRight(s, "/")
	}
	if s := getenv("ROUNDS_TERRITORY_GRACE_DAYS"); s != "" {
		days, err := strconv.Atoi(s)
		if err != nil || days < 0 || days > 365 {
			return deps, fmt.Errorf("ROUNDS_TERRITORY_GRACE_DAYS must be a whole number of days from 0 to 365, got %q", s)
		}
		deps.TerritoryGrace = time.Duration(days) * 24 * time.Hour
		if days == 0 {
			deps.TerritoryGrace = -1 // off
		}
	}
	if cfg, ok, err := replica.FromEnv(getenv); err != nil {
		return deps, err
	} else if ok {
		deps.Replica = &cfg
	}
	if s := getenv("ROUNDS_PUSH_QUEUE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100000 {
			return deps, fmt.Errorf("ROUNDS_PUSH_QUEUE must be a whole number of pushes from 0 to 100000, got %q", s)
		}
		deps.PushQueue = n
		if n == 0 {
			deps.PushQueue = -1 // off
		}
	}
	tiles, err := hooks.ParseMapTiles(getenv("ROUNDS_MAP_TILES"))
	if err != nil {
		return deps, err
	}
	deps.MapTiles = tiles
	if s := getenv("ROUNDS_PUSH_SHARE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100000 {
			return deps, fmt.Errorf("ROUNDS_PUSH_SHARE must be a whole number of pushes from 0 to 100000 (0: no limit), got %q", s)
		}
		deps.PushShare = n
		if n == 0 {
			deps.PushShare = -1 // no limit
		}
	}
	return deps, nil
}
