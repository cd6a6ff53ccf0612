package seed

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"rounds/crm"
)

// Command is `rounds seed`: migrate, then load a demo company.
func Command(app core.App) *cobra.Command {
	opts := DefaultOptions()
	var today string
	var ifEmpty bool
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
			for _, table := range []string{crm.Users, crm.Customers, crm.Contacts, crm.Visits, crm.FollowUps, crm.Orders, crm.OrderLines, crm.Products} {
				fmt.Fprintf(out, "  %-12s %d\n", table, stats.Rows[table])
			}
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
	return cmd
}
