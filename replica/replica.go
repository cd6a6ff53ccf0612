// Package replica streams the database to object storage as it changes,
// with Litestream embedded (no second process), and restores it on a fresh
// machine. It is off unless ROUNDS_REPLICA_URL names a replica:
// s3://bucket/path (S3 or an S3-compatible store; credentials from the
// AWS environment) or file:///path (another disk, or a test).
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	_ "github.com/benbjohnson/litestream/s3" // s3:// replicas
)

// Config is where and how often the database is replicated.
type Config struct {
	URL string
	// Sync is how often new writes are shipped: what a lost disk costs
	// at most. Zero means one second.
	Sync time.Duration
}

// FromEnv reads ROUNDS_REPLICA_URL and ROUNDS_REPLICA_SYNC (a duration,
// 100ms to 1h); ok is false when replication is off.
func FromEnv(getenv func(string) string) (cfg Config, ok bool, err error) {
	cfg.URL = strings.TrimSpace(getenv("ROUNDS_REPLICA_URL"))
	if cfg.URL == "" {
		return cfg, false, nil
	}
	if _, err := litestream.NewReplicaClientFromURL(cfg.URL); err != nil {
		return cfg, false, fmt.Errorf("ROUNDS_REPLICA_URL must be a replica such as s3://bucket/rounds or file:///var/backups/rounds: %w", err)
	}
	if s := getenv("ROUNDS_REPLICA_SYNC"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 100*time.Millisecond || d > time.Hour {
			return cfg, false, fmt.Errorf("ROUNDS_REPLICA_SYNC must be a duration from 100ms to 1h, such as 1s, got %q", s)
		}
		cfg.Sync = d
	}
	return cfg, true, nil
}

// Replicator streams one database file to its replica.
type Replicator struct {
	store *litestream.Store
}

// Start begins replicating the SQLite database at path (in WAL mode) to
// cfg.URL: a snapshot first, then every change within cfg.Sync.
func Start(ctx context.Context, path string, cfg Config, logger *slog.Logger) (*Replicator, error) {
	if dropCABundle(cfg.URL) && logger != nil {
		logger.Warn(caBundleNote)
	}
	client, err := litestream.NewReplicaClientFromURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	db := litestream.NewDB(path)
	if logger != nil {
		db.Logger = logger
	}
	r := litestream.NewReplicaWithClient(db, client)
	if cfg.Sync > 0 {
		r.SyncInterval = cfg.Sync
	}
	db.Replica = r
	if fc, ok := client.(*file.ReplicaClient); ok {
		fc.Replica = r // keeps the database file's permissions on the replica
	}
	store := litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
	if err := store.Open(ctx); err != nil {
		return nil, fmt.Errorf("replicate %s: %w", path, err)
	}
	return &Replicator{store: store}, nil
}

// Close ships what is left and stops; call it after the application's
// own connections are closed.
func (r *Replicator) Close(ctx context.Context) error {
	return r.store.Close(ctx)
}

// ErrExists is returned by Restore when the output file exists already.
var ErrExists = errors.New("the database file exists already; restore into an empty data directory")

// ErrNoReplica is returned by Restore when the replica holds nothing.
var ErrNoReplica = errors.New("the replica holds no database yet")

// Restore writes the latest state the replica holds to path, which must
// not exist.
func Restore(ctx context.Context, url, path string) error {
	if _, err := os.Stat(path); err == nil {
		return ErrExists
	}
	if dropCABundle(url) {
		fmt.Fprintln(os.Stderr, caBundleNote)
	}
	client, err := litestream.NewReplicaClientFromURL(url)
	if err != nil {
		return err
	}
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = path
	err = litestream.NewReplicaWithClient(nil, client).Restore(ctx, opt)
	if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
		return ErrNoReplica
	}
	return err
}

// caBundleNote says why AWS_CA_BUNDLE is set aside.
const caBundleNote = "AWS_CA_BUNDLE is ignored for the replica: Litestream's S3 client cannot use it " +
	"(the AWS SDK refuses its HTTP client when the variable is set, and replication would not start). " +
	"The system's certificate authorities are used; add a private one through SSL_CERT_FILE or SSL_CERT_DIR."

// dropCABundle unsets AWS_CA_BUNDLE before an S3 replica is opened, and
// says whether it did. Litestream (v0.5) gives the AWS SDK a plain
// http.Client; the SDK can add a CA bundle only to its own client type,
// and otherwise fails to load its configuration: with the variable set,
// as it is on many machines (pointing at the system bundle), no S3
// replica could start. Nothing else in Rounds uses the AWS SDK.
func dropCABundle(url string) bool {
	if !strings.HasPrefix(url, "s3://") || os.Getenv("AWS_CA_BUNDLE") == "" {
		return false
	}
	return os.Unsetenv("AWS_CA_BUNDLE") == nil
}
