package replica

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Command is `rounds restore`: the latest replicated database into an
// empty data directory, before any server starts on it. It runs outside
// PocketBase's command line, which would create an empty database in the
// directory first.
func Command() *cobra.Command {
	var from, dir string
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restores the database from its replica (ROUNDS_REPLICA_URL) into an empty data directory",
		Long: `Writes the latest state the replica holds into <dir>/data.db. The data directory must
hold no database yet. Then start the server on it (with the same ROUNDS_REPLICA_URL to go on
replicating). Customer links need the care secret: set ROUNDS_CARE_SECRET, or copy
<dir>/.care_secret from the lost machine's backups.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				from = os.Getenv("ROUNDS_REPLICA_URL")
			}
			if from == "" {
				return fmt.Errorf("name the replica with --from or ROUNDS_REPLICA_URL")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(dir, "data.db")
			if err := Restore(cmd.Context(), from, path); err != nil {
				return fmt.Errorf("restore %s: %w", path, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored %s from the replica. Start the server on %s.\n", path, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the replica (default: ROUNDS_REPLICA_URL)")
	cmd.Flags().StringVar(&dir, "dir", "pb_data", "the data directory to restore into")
	return cmd
}
