package loadtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Command is `rounds loadtest`: syncs at rising rates against a running
// server on this machine, one line per rate, and the knee.
func Command() *cobra.Command {
	o := Options{URL: "http://127.0.0.1:8090", Reps: 100, Password: "rounds-demo", Step: 20 * time.Second,
		Changes: 15, Timeout: 30 * time.Second, Seed: 1}
	domain, rates := "rounds.test", "25,50,100,150,200"
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Finds how many syncs a second a running server carries (loopback only)",
		Long: `Signs in --reps reps (rep1@DOMAIN, rep2@DOMAIN, ...; seed the server with at least that
many, e.g. rounds seed --reps 200 --customers 4000), gives each a first pull, then sends syncs
(a pull, a push of --changes records, a pull) at each of --rates syncs a second for --step.
Each line gives push and pull latencies, syncs under way, pushes turned away (429), errors and
pushes overtaken by pushes sent later; the first rate past the knee (pushes turned away or
failing, or the rate not reached) is named at the end.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Email = func(i int) string { return fmt.Sprintf("rep%d@%s", i, domain) }
			o.Rates = nil
			for _, f := range strings.Split(rates, ",") {
				r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return fmt.Errorf("--rates must be numbers separated by commas, got %q", rates)
				}
				o.Rates = append(o.Rates, r)
			}
			out := cmd.OutOrStdout()
			o.Progress = out
			fmt.Fprintf(out, "%d reps, %d changes a push, %v a rate, against %s\n", o.Reps, o.Changes, o.Step, o.URL)
			steps, err := Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			for _, s := range steps {
				if s.Knee() {
					fmt.Fprintf(out, "knee: %.0f syncs a second is past what this node carries\n", s.Rate)
					return nil
				}
			}
			fmt.Fprintln(out, "knee: not reached; try higher --rates")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", o.URL, "the server (this machine only)")
	f.IntVar(&o.Reps, "reps", o.Reps, "reps to sign in")
	f.StringVar(&domain, "domain", domain, "the reps' email domain")
	f.StringVar(&o.Password, "password", o.Password, "the reps' password")
	f.StringVar(&rates, "rates", rates, "syncs a second, one step each")
	f.DurationVar(&o.Step, "step", o.Step, "how long each rate is held")
	f.IntVar(&o.Changes, "changes", o.Changes, "records a push carries")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "a request a phone gives up on")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of which rep syncs when")
	f.IntVar(&o.ServerPID, "server-pid", 0, "the server's process id on this machine: report its CPU time per sync (Linux)")
	return cmd
}
