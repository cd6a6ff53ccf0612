package seed

import (
	"fmt"
	"io"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"rounds/crm"
)

// Command is `rounds seed`: migrate, then load a demo company.
func Command(app core.App) *cobra.Command {
	opts := DefaultOptions()
	var today string
	var ifEmpty bool
	var admin, adminPassword string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Loads a realistic, deterministic demo company (reps, customers, visits, orders, ...)",
		Long: `Loads a realistic demo company into the database: managers and reps in several time
zones, customers with contacts, visits, follow-ups, orders and order lines, products,
care campaigns, devices, and some push and conflict history. The same --seed and
--today give the same data. Every user's password is --password.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if today != "" {
				t, err := time.Parse(time.DateOnly, today)
				if err != nil {
					return fmt.Errorf("--today must look like 2026-11-23: %w", err)
				}
				opts.Today = t
			}
			if err := app.RunAllMigrations(); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			out := cmd.OutOrStdout()
			if admin != "" {
				if err := demoSuperuser(app, out, admin, adminPassword); err != nil {
					return err
				}
			}
			users, err := app.CountRecords(crm.Users)
			if err != nil {
				return err
			}
			customers, err := app.CountRecords(crm.Customers)
			if err != nil {
				return err
			}
			if users > 0 || customers > 0 {
				if ifEmpty {
					fmt.Fprintf(out, "The database already holds %d users and %d customers; not seeding.\n", users, customers)
					return nil
				}
				return fmt.Errorf("the database already holds %d users and %d customers; seed an empty data directory (or pass --if-empty to skip)", users, customers)
			}
			fmt.Fprintf(out, "Seeding %d managers, %d reps, %d customers (seed %d)...\n", opts.Managers, opts.Reps, opts.Customers, opts.Seed)
			stats, err := Run(cmd.Context(), app, opts, out)
			if err != nil {
				return err
			}
			stats.Summary(out)
			fmt.Fprintf(out, "Demo logins (password %q): %s (rep), %s (manager)\n", opts.Password, RepEmail(1), ManagerEmail(1))
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "random seed; the same seed gives the same company")
	f.StringVar(&today, "today", "", "anchor date of the data, YYYY-MM-DD (default: today)")
	f.IntVar(&opts.Managers, "managers", opts.Managers, "number of managers")
	f.IntVar(&opts.Reps, "reps", opts.Reps, "number of reps")
	f.IntVar(&opts.Customers, "customers", opts.Customers, "number of customers, spread over the reps")
	f.IntVar(&opts.ContactsPerCustomer, "contacts", opts.ContactsPerCustomer, "contacts per customer (average)")
	f.IntVar(&opts.VisitsPerCustomer, "visits", opts.VisitsPerCustomer, "visits per customer (average)")
	f.IntVar(&opts.FollowUpsPerCustomer, "follow-ups", opts.FollowUpsPerCustomer, "follow-ups per customer (average)")
	f.IntVar(&opts.OrdersPerCustomer, "orders", opts.OrdersPerCustomer, "orders per customer (average)")
	f.IntVar(&opts.LinesPerOrder, "lines", opts.LinesPerOrder, "lines per order (average)")
	f.IntVar(&opts.Products, "products", opts.Products, "number of products")
	f.StringVar(&opts.Password, "password", opts.Password, "password of every demo user")
	f.IntVar(&opts.BatchSize, "batch", opts.BatchSize, "rows per transaction")
	f.BoolVar(&ifEmpty, "if-empty", false, "do nothing (and succeed) when the database already has users or customers")
	f.StringVar(&admin, "superuser", "", "create this superuser (email) when the database has none; an existing one is left as it is")
	f.StringVar(&adminPassword, "superuser-password", "", "the password of --superuser")
	return cmd
}

// installerEmail is the temporary superuser PocketBase makes for its
// installer link when the database has none; it does not count.
const installerEmail = "__pbinstaller@example.com"

// demoSuperuser creates the superuser email with password when the
// database has no superuser (besides PocketBase's installer), so that a
// password an admin changed in the dashboard is never reset by the next
// `make run`.
func demoSuperuser(app core.App, out io.Writer, email, password string) error {
	if len(password) < 8 {
		return fmt.Errorf("--superuser-password must have at least 8 characters")
	}
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM " + core.CollectionNameSuperusers + " WHERE email != {:i}").
		Bind(dbx.Params{"i": installerEmail}).Row(&n); err != nil {
		return fmt.Errorf("count superusers: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(out, "The database has %d superuser(s); leaving them as they are (a forgotten password: rounds superuser upsert EMAIL PASSWORD).\n", n)
		return nil
	}
	c, err := app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	r := core.NewRecord(c)
	r.SetEmail(email)
	r.SetPassword(password)
	if err := app.Save(r); err != nil {
		return fmt.Errorf("create the superuser %s: %w", email, err)
	}
	fmt.Fprintf(out, "Created the superuser %s.\n", email)
	return nil
}
