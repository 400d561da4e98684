// Package store owns Rampart's persistent state: an embedded SQLite file by
// default (modernc.org/sqlite, no cgo) or PostgreSQL for a cluster (pgx),
// behind one type, with versioned migrations applied on open. It holds API
// keys, signing keys, revoked tokens, audit checkpoints and wrapped data
// keys (package keyring).
//
// Both back ends run the same queries (written with $N placeholders) and the
// same test suite. Times are stored as Unix seconds, lists as JSON arrays,
// so the schema is the same on both. It stores what it is given: secrets
// arrive hashed (package apikey) and never leave in clear.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"modernc.org/sqlite"             // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rampart-gw/rampart/internal/config"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a record with the same id exists.
var ErrExists = errors.New("already exists")

// Store is the state store. It is safe for concurrent use.
//
// Every call is bounded by the store's timeout (config store.timeout), on
// top of whatever deadline the caller's context carries: a database that
// accepts connections but never answers costs each call at most that
// long. A call that fails because the store could not be reached or did
// not answer in time returns an error wrapping ErrUnavailable; the store
// logs the start of each such outage once, and its end once, so callers
// need not log each failed call.
type Store struct {
	db      *sql.DB
	driver  string
	version int
	timeout time.Duration
	log     *slog.Logger

	// down is set while an outage is reported (logged and not yet
	// recovered): the one load on every successful call.
	down atomic.Bool
	// healthMu orders the outage and recovery lines.
	healthMu sync.Mutex
	// downSince is when the reported outage was logged.
	downSince time.Time
}

// ErrUnavailable marks a failed call that the store did not answer: the
// database could not be reached, refused or dropped the connection, or
// stayed silent past the store's timeout. Errors of calls it did answer
// (ErrNotFound, ErrExists, a rejected query) do not wrap it.
var ErrUnavailable = errors.New("store unavailable")

// unavailable wraps the error of a call the store did not answer.
type unavailable struct{ err error }

func (e *unavailable) Error() string   { return "store unavailable: " + e.err.Error() }
func (e *unavailable) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// Option tunes Open.
type Option func(*Store)

// WithLogger sends the store's outage and recovery lines to l. Default:
// discarded.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Open opens (creating if needed) the store configured by c and applies
// pending migrations. c.Timeout bounds every later call (zero:
// config.DefaultStoreTimeout); opening has its own 10 s.
func Open(ctx context.Context, c config.Store, opts ...Option) (*Store, error) {
	timeout := c.Timeout.Std()
	if timeout <= 0 {
		timeout = config.DefaultStoreTimeout
	}
	var (
		db  *sql.DB
		err error
	)
	switch c.Driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
			return nil, fmt.Errorf("creating store dir: %w", err)
		}
		// WAL lets readers (every authenticated request) run beside the
		// rare writer; busy_timeout waits out a CLI holding the lock.
		dsn := "file:" + c.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
		db, err = sql.Open("sqlite", dsn)
		if err == nil {
			db.SetMaxOpenConns(4)
		}
	case "postgres":
		dsn, rerr := readDSN(c)
		if rerr != nil {
			return nil, rerr
		}
		pc, perr := pgx.ParseConfig(dsn)
		if perr != nil {
			return nil, fmt.Errorf("parsing the store's PostgreSQL DSN: %w", perr) // pgx redacts the password
		}
		// The connect timeout bounds the whole connection set-up (dial,
		// TLS, startup, authentication). database/sql also opens
		// connections on a goroutine of its own, under no caller's
		// deadline: without this bound, an open to a server that accepts
		// and then stays silent would hold a pool slot forever, and the
		// pool would stay wedged after the server came back.
		if pc.ConnectTimeout == 0 || pc.ConnectTimeout > timeout {
			pc.ConnectTimeout = timeout
		}
		db = stdlib.OpenDB(*pc)
		// As many idle connections as open ones: database/sql keeps two
		// by default, so every burst of concurrent lookups would open
		// (and close again) connections costing a PostgreSQL backend
		// start each, tens of milliseconds.
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	default:
		return nil, fmt.Errorf("store.driver %q: must be sqlite or postgres", c.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s store: %w", c.Driver, err)
	}
	s := &Store{db: db, driver: c.Driver, timeout: timeout, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A new SQLite file that several processes open at once answers
	// SQLITE_BUSY to all but one while it switches to WAL: they wait and
	// try again, within the open's 10 s.
	err = busyRetry(pctx, c.Driver, func() error { return db.PingContext(pctx) })
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to the %s store: %w", c.Driver, err)
	}
	if c.Driver == "sqlite" {
		_ = os.Chmod(c.Path, 0o600) // keyed hashes, but still nobody else's business
	}
	if err := busyRetry(pctx, c.Driver, func() error { return s.migrate(pctx) }); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// busyRetry runs f until it succeeds, fails with something other than
// SQLite's "database is locked", or ctx ends.
func busyRetry(ctx context.Context, driver string, f func() error) error {
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil || driver != "sqlite" || !(strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func readDSN(c config.Store) (string, error) {
	if c.DSN != "" {
		return c.DSN, nil
	}
	b, err := os.ReadFile(c.DSNFile) // #nosec G304 -- the operator names the DSN file
	if err != nil {
		return "", fmt.Errorf("reading store.dsn_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Driver names the back end: sqlite or postgres.
func (s *Store) Driver() string { return s.driver }

// Version is the schema version after migrations.
func (s *Store) Version() int { return s.version }

// Timeout is the bound of one call (config store.timeout).
func (s *Store) Timeout() time.Duration { return s.timeout }

// call starts one store call: it returns ctx bounded by the store's
// timeout and the function that ends the call, which releases the
// timeout, records whether the store answered, and marks an unanswered
// call's error with ErrUnavailable.
func (s *Store) call(ctx context.Context) (context.Context, func(error) error) {
	bounded, cancel := context.WithTimeout(ctx, s.timeout)
	return bounded, func(err error) error {
		cancel()
		switch {
		case err == nil || answered(err):
			s.healthy()
			return err
		case errors.Is(ctx.Err(), context.Canceled):
			// The caller gave up (a client hung up): that says nothing
			// about the store. A caller's deadline that passes first,
			// though, is the store not answering in the time it had.
			return err
		}
		s.failed(err)
		return &unavailable{err}
	}
}

// answered reports whether err is the store's own answer (no such row, a
// duplicate, a refused statement, a stored value that does not decode)
// rather than a failure to reach it or to hear from it in time.
func answered(err error) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) || errors.Is(err, sql.ErrNoRows) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Connection exceptions (08), insufficient resources (53),
		// operator intervention such as a shutdown (57) and system
		// errors (58) are outages; the rest is an answer.
		switch pe.SQLState()[:2] {
		case "08", "53", "57", "58":
			return false
		}
		return true
	}
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_INTERRUPT:
			return false
		}
		return true
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te)
}

// outageLogEvery is the least time between two outage lines: a store that
// flaps is reported at most this often, not once per flap.
const outageLogEvery = 10 * time.Second

// failed records an unanswered call: the first one of an outage is
// logged.
func (s *Store) failed(err error) {
	if s.down.Load() {
		return
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	now := time.Now()
	if s.down.Load() || (!s.downSince.IsZero() && now.Sub(s.downSince) < outageLogEvery) {
		return
	}
	s.downSince = now
	s.down.Store(true)
	s.log.Error("store unavailable; calls fail until it answers (API keys and protected fields: 503; background work retries)",
		"driver", s.driver, "timeout", s.timeout, "error", err)
}

// healthy records an answered call, logging the end of a reported outage.
func (s *Store) healthy() {
	if !s.down.Load() {
		return
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if !s.down.Load() {
		return
	}
	s.down.Store(false)
	s.log.Info("store available again", "driver", s.driver, "unavailable_for", time.Since(s.downSince).Round(time.Millisecond))
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// q adapts a query written with $N placeholders to the driver.
func (s *Store) q(query string) string {
	if s.driver == "sqlite" {
		return placeholder.ReplaceAllString(query, "?$1")
	}
	return query
}

// migrationLock is the PostgreSQL advisory lock key of migrations.
const migrationLock = 0x72616d70 // "ramp"

// migration is one schema step; ddl holds the statement per driver.
type migration struct {
	version int
	ddl     map[string][]string
}

// migrations are applied in order, each in a transaction, and never
// edited once released: a change is a new migration.
var migrations = []migration{
	{1, map[string][]string{
		"sqlite": {`CREATE TABLE api_keys (
			id TEXT PRIMARY KEY, name TEXT NOT NULL, subject TEXT NOT NULL,
			roles TEXT NOT NULL, scopes TEXT NOT NULL, cidrs TEXT NOT NULL,
			hash BLOB NOT NULL, prev_hash BLOB, prev_valid_until BIGINT,
			created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT, last_used_at BIGINT)`},
		"postgres": {`CREATE TABLE api_keys (
			id TEXT PRIMARY KEY, name TEXT NOT NULL, subject TEXT NOT NULL,
			roles TEXT NOT NULL, scopes TEXT NOT NULL, cidrs TEXT NOT NULL,
			hash BYTEA NOT NULL, prev_hash BYTEA, prev_valid_until BIGINT,
			created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT, last_used_at BIGINT)`},
	}},
	{2, map[string][]string{
		"sqlite": {`CREATE TABLE signing_keys (
			kid TEXT PRIMARY KEY, purpose TEXT NOT NULL, alg TEXT NOT NULL,
			created_at BIGINT NOT NULL, retire_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
			private_key BLOB NOT NULL, public_jwk TEXT NOT NULL)`},
		"postgres": {`CREATE TABLE signing_keys (
			kid TEXT PRIMARY KEY, purpose TEXT NOT NULL, alg TEXT NOT NULL,
			created_at BIGINT NOT NULL, retire_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
			private_key BYTEA NOT NULL, public_jwk TEXT NOT NULL)`},
	}},
	{3, map[string][]string{
		"sqlite":   {`CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)`},
		"postgres": {`CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)`},
	}},
	{4, map[string][]string{
		"sqlite":   {`CREATE TABLE audit_checkpoints (origin TEXT NOT NULL, size BIGINT NOT NULL, note BLOB NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (origin, size))`},
		"postgres": {`CREATE TABLE audit_checkpoints (origin TEXT NOT NULL, size BIGINT NOT NULL, note BYTEA NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (origin, size))`},
	}},
	{5, map[string][]string{
		"sqlite": {`CREATE TABLE data_keys (
			key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, version INTEGER NOT NULL,
			kek_version INTEGER NOT NULL, wrapped BLOB NOT NULL, created_at BIGINT NOT NULL,
			used BIGINT NOT NULL DEFAULT 0, UNIQUE (subject, version))`,
			`CREATE INDEX data_keys_kek ON data_keys (kek_version, key_id)`,
			`CREATE TABLE key_shreds (subject_hash BLOB NOT NULL, shredded_at BIGINT NOT NULL)`,
			`CREATE INDEX key_shreds_at ON key_shreds (shredded_at)`},
		"postgres": {`CREATE TABLE data_keys (
			key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, version INTEGER NOT NULL,
			kek_version INTEGER NOT NULL, wrapped BYTEA NOT NULL, created_at BIGINT NOT NULL,
			used BIGINT NOT NULL DEFAULT 0, UNIQUE (subject, version))`,
			`CREATE INDEX data_keys_kek ON data_keys (kek_version, key_id)`,
			`CREATE TABLE key_shreds (subject_hash BYTEA NOT NULL, shredded_at BIGINT NOT NULL)`,
			`CREATE INDEX key_shreds_at ON key_shreds (shredded_at)`},
	}},
	// One counter, moved by every change to api_keys but last-used
	// times: gateways that cache key records poll it (APIKeyChanges).
	{6, map[string][]string{
		"sqlite": {`CREATE TABLE api_key_changes (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)`,
			`INSERT INTO api_key_changes (id, n) VALUES (1, 0)`},
		"postgres": {`CREATE TABLE api_key_changes (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)`,
			`INSERT INTO api_key_changes (id, n) VALUES (1, 0)`},
	}},
}

// migrate applies pending migrations. A database newer than this binary is
// refused rather than written to.
func (s *Store) migrate(ctx context.Context) error {
	// One connection for the whole run; on PostgreSQL it holds an advisory
	// lock, so gateways starting together migrate one after the other.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer conn.Close()
	if s.driver == "postgres" {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
		}()
	}
	if s.driver == "sqlite" {
		// The write lock first, for the whole run: two processes opening
		// one file at once (gateways, or a CLI beside one) migrate one
		// after the other, the second finding nothing left to do.
		// busy_timeout makes it wait.
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
		done := false
		defer func() {
			if done {
				return
			}
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
				// database/sql does not know of this transaction: a
				// connection that could not leave it must not go back
				// to the pool holding the write lock.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
		if err := s.migrateSteps(ctx, conn); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
			return fmt.Errorf("committing migrations: %w", err)
		}
		done = true
		return nil
	}
	return s.migrateSteps(ctx, conn)
}

// migrateSteps applies the pending migrations on conn: each in a
// transaction of its own on PostgreSQL, inside the caller's on SQLite.
func (s *Store) migrateSteps(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	latest := migrations[len(migrations)-1].version
	if current > latest {
		return fmt.Errorf("the store's schema is version %d, newer than this rampart knows (%d): upgrade rampart", current, latest)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if err := s.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	s.version = latest
	return nil
}

// apply runs one migration and records it.
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	type execer interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
	var ex execer = conn
	var tx *sql.Tx
	if s.driver != "sqlite" { // SQLite runs inside the caller's transaction
		var err error
		if tx, err = conn.BeginTx(ctx, nil); err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		ex = tx
	}
	for _, stmt := range m.ddl[s.driver] {
		if _, err := ex.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("applying migration %d: %w", m.version, err)
		}
	}
	if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`), m.version, time.Now().Unix()); err != nil {
		return fmt.Errorf("recording migration %d: %w", m.version, err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing migration %d: %w", m.version, err)
		}
	}
	return nil
}

// APIKey is a stored API key: its public id, its owner and grants, and the
// keyed hash of its secret (never the secret).
type APIKey struct {
	ID      string
	Name    string
	Subject string
	Roles   []string
	Scopes  []string
	// CIDRs, when set, bind the key to client addresses.
	CIDRs []string
	// Hash is the keyed hash of the current secret.
	Hash []byte
	// PrevHash is the hash of the secret replaced by the last rotation,
	// still accepted until PrevValidUntil (the grace window).
	PrevHash       []byte
	PrevValidUntil time.Time
	CreatedAt      time.Time
	// ExpiresAt, RevokedAt and LastUsedAt are zero when unset.
	ExpiresAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

func unix(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func fromUnix(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(n.Int64, 0).UTC()
}

func list(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// CreateAPIKey stores a new key; ErrExists if its id is taken.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	err = s.changeAPIKeys(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO api_keys
		(id, name, subject, roles, scopes, cidrs, hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
			k.ID, k.Name, k.Subject, list(k.Roles), list(k.Scopes), list(k.CIDRs), k.Hash, k.CreatedAt.Unix(), unix(k.ExpiresAt))
		return err
	})
	if err != nil {
		if isUniqueViolation(err) {
			return ErrExists
		}
		return fmt.Errorf("storing api key: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// #nosec G101 -- column names, not credentials
const apiKeyColumns = `id, name, subject, roles, scopes, cidrs, hash, prev_hash, prev_valid_until, created_at, expires_at, revoked_at, last_used_at`

type scanner interface{ Scan(...any) error }

func scanAPIKey(r scanner) (APIKey, error) {
	var (
		k                                 APIKey
		roles, scopes, cidrs              string
		prevValid, exp, revoked, lastUsed sql.NullInt64
		created                           int64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Subject, &roles, &scopes, &cidrs, &k.Hash, &k.PrevHash, &prevValid, &created, &exp, &revoked, &lastUsed); err != nil {
		return APIKey{}, err
	}
	for _, f := range []struct {
		raw string
		dst *[]string
	}{{roles, &k.Roles}, {scopes, &k.Scopes}, {cidrs, &k.CIDRs}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return APIKey{}, fmt.Errorf("decoding api key %s: %w", k.ID, err)
		}
	}
	k.CreatedAt = time.Unix(created, 0).UTC()
	k.PrevValidUntil, k.ExpiresAt, k.RevokedAt, k.LastUsedAt = fromUnix(prevValid), fromUnix(exp), fromUnix(revoked), fromUnix(lastUsed)
	return k, nil
}

// APIKey returns the key with the given id, or ErrNotFound.
func (s *Store) APIKey(ctx context.Context, id string) (_ APIKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("reading api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context) (_ []APIKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey marks a key revoked at the given time; revoking twice keeps
// the first time. ErrNotFound if there is no such key.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	return s.changeAPIKeys(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`), id, at.Unix())
		return affected(res, err, "revoking api key")
	})
}

// RotateAPIKey replaces a key's secret hash; the old secret keeps working
// until prevValidUntil (zero: at once). Revoked keys cannot be rotated.
func (s *Store) RotateAPIKey(ctx context.Context, id string, newHash []byte, prevValidUntil time.Time) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	return s.changeAPIKeys(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE api_keys SET prev_hash = hash, prev_valid_until = $3, hash = $2
		WHERE id = $1 AND revoked_at IS NULL`), id, newHash, unix(prevValidUntil))
		return affected(res, err, "rotating api key")
	})
}

// changeAPIKeys runs f, a change to api_keys, in a transaction that also
// moves the change counter: a gateway that sees the counter move knows
// every record it read before may be stale.
func (s *Store) changeAPIKeys(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("changing api keys: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_key_changes SET n = n + 1 WHERE id = 1`); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("counting the api key change: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("changing api keys: %w", err)
	}
	return nil
}

// APIKeyChanges returns the api key change counter: it moves with every
// key created, revoked or rotated through the store (last-used times
// excepted), on every gateway sharing it. A change made to the table by
// hand does not move it.
func (s *Store) APIKeyChanges(ctx context.Context) (_ int64, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT n FROM api_key_changes WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the api key change counter: %w", err)
	}
	return n, nil
}

// TouchAPIKeys records last-used times in one batch (the authenticator
// collects them off the request path).
func (s *Store) TouchAPIKeys(ctx context.Context, used map[string]time.Time) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	if len(used) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for id, at := range used {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`), id, at.Unix()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("recording api key use: %w", err)
		}
	}
	return tx.Commit()
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SigningKey is a key Rampart signs with (identity tokens for upstreams),
// its private half encrypted by the caller before it is stored.
type SigningKey struct {
	KID     string
	Purpose string
	Alg     string
	// CreatedAt is when it was made; it signs until RetireAt and stays
	// published (for tokens it signed) until ExpiresAt.
	CreatedAt, RetireAt, ExpiresAt time.Time
	// PrivateKey is the encrypted private key.
	PrivateKey []byte
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK string
}

// CreateSigningKey stores a new signing key; ErrExists if its kid is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k SigningKey) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO signing_keys
		(kid, purpose, alg, created_at, retire_at, expires_at, private_key, public_jwk)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
		k.KID, k.Purpose, k.Alg, k.CreatedAt.Unix(), k.RetireAt.Unix(), k.ExpiresAt.Unix(), k.PrivateKey, k.PublicJWK)
	if err != nil {
		if isUniqueViolation(err) {
			return ErrExists
		}
		return fmt.Errorf("storing signing key: %w", err)
	}
	return nil
}

// ResealSigningKey replaces the sealed private half of signing key kid
// with resealed, only if it is still old (a compare-and-swap, so two
// rewraps at once or a rewrap racing a rotation never lose a key). It
// reports whether the row changed.
func (s *Store) ResealSigningKey(ctx context.Context, kid string, old, resealed []byte) (changed bool, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3`), resealed, kid, old)
	if err != nil {
		return false, fmt.Errorf("resealing signing key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("resealing signing key: %w", err)
	}
	return n == 1, nil
}

// SigningKeys returns the keys of a purpose that have not expired at now,
// newest first, and deletes the expired ones.
func (s *Store) SigningKeys(ctx context.Context, purpose string, now time.Time) (_ []SigningKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM signing_keys WHERE purpose = $1 AND expires_at <= $2`), purpose, now.Unix()); err != nil {
		return nil, fmt.Errorf("deleting expired signing keys: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kid, purpose, alg, created_at, retire_at, expires_at, private_key, public_jwk
		FROM signing_keys WHERE purpose = $1 ORDER BY created_at DESC, kid`), purpose)
	if err != nil {
		return nil, fmt.Errorf("reading signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
		var c, r, e int64
		if err := rows.Scan(&k.KID, &k.Purpose, &k.Alg, &c, &r, &e, &k.PrivateKey, &k.PublicJWK); err != nil {
			return nil, fmt.Errorf("reading signing keys: %w", err)
		}
		k.CreatedAt, k.RetireAt, k.ExpiresAt = time.Unix(c, 0).UTC(), time.Unix(r, 0).UTC(), time.Unix(e, 0).UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading signing keys: %w", err)
	}
	return out, nil
}

// RevokeToken records that the token jti is revoked until it expires at
// exp (after which it would be refused anyway). Revoking twice is fine.
func (s *Store) RevokeToken(ctx context.Context, jti string, exp time.Time) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	q := `INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`
	if _, err := s.db.ExecContext(ctx, s.q(q), jti, exp.Unix()); err != nil {
		return fmt.Errorf("revoking a token: %w", err)
	}
	return nil
}

// RevokedTokens returns the ids of revoked tokens that have not expired at
// now, and forgets the expired ones.
func (s *Store) RevokedTokens(ctx context.Context, now time.Time) (_ []string, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM revoked_tokens WHERE expires_at <= $1`), now.Unix()); err != nil {
		return nil, fmt.Errorf("forgetting expired revocations: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT jti FROM revoked_tokens`)
	if err != nil {
		return nil, fmt.Errorf("reading revocations: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, fmt.Errorf("reading revocations: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// SaveAuditCheckpoint keeps a copy of an audit log checkpoint (a signed
// note) away from the gateway's disk. Saving one size twice keeps the
// first.
func (s *Store) SaveAuditCheckpoint(ctx context.Context, origin string, size int64, note []byte, at time.Time) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	q := `INSERT INTO audit_checkpoints (origin, size, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (origin, size) DO NOTHING`
	if _, err := s.db.ExecContext(ctx, s.q(q), origin, size, note, at.Unix()); err != nil {
		return fmt.Errorf("saving an audit checkpoint: %w", err)
	}
	return nil
}

// AuditCheckpoints returns the checkpoints kept for origin, by size.
func (s *Store) AuditCheckpoints(ctx context.Context, origin string) (_ [][]byte, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT note FROM audit_checkpoints WHERE origin = $1 ORDER BY size`), origin)
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("reading audit checkpoints: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
