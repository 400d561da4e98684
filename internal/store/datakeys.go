package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DataKey is one version of a subject's data key, wrapped (encrypted) by a
// key-encryption key before it is stored: the store never holds a data key
// in clear.
type DataKey struct {
	// KeyID is the key's random, opaque id, carried by every ciphertext
	// made with it.
	KeyID   string
	Subject string
	// Version counts the subject's keys from 1; the highest encrypts.
	Version int
	// KEKVersion is the version of the key-encryption key that wrapped it.
	KEKVersion int
	Wrapped    []byte
	CreatedAt  time.Time
	// Used is how many encryptions gateways have reserved with this key:
	// an upper bound of the messages it encrypted.
	Used int64
}

const dataKeyColumns = `key_id, subject, version, kek_version, wrapped, created_at, used`

func scanDataKey(r scanner) (DataKey, error) {
	var k DataKey
	var created int64
	if err := r.Scan(&k.KeyID, &k.Subject, &k.Version, &k.KEKVersion, &k.Wrapped, &created, &k.Used); err != nil {
		return DataKey{}, err
	}
	k.CreatedAt = time.Unix(created, 0).UTC()
	return k, nil
}

func (s *Store) dataKeys(ctx context.Context, what, query string, args ...any) (_ []DataKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []DataKey
	for rows.Next() {
		k, err := scanDataKey(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// CreateDataKey stores a new data key version. ErrExists when the subject
// already has that version (another gateway made it first) or the id is
// taken.
func (s *Store) CreateDataKey(ctx context.Context, k DataKey) (err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO data_keys (`+dataKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`),
		k.KeyID, k.Subject, k.Version, k.KEKVersion, k.Wrapped, k.CreatedAt.Unix(), k.Used)
	if err != nil {
		if isUniqueViolation(err) {
			return ErrExists
		}
		return fmt.Errorf("storing a data key: %w", err)
	}
	return nil
}

// DataKey returns the key with the given id, or ErrNotFound (never made,
// or shredded).
func (s *Store) DataKey(ctx context.Context, keyID string) (_ DataKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	k, err := scanDataKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+dataKeyColumns+` FROM data_keys WHERE key_id = $1`), keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return DataKey{}, ErrNotFound
	}
	if err != nil {
		return DataKey{}, fmt.Errorf("reading a data key: %w", err)
	}
	return k, nil
}

// CurrentDataKey returns the subject's newest key version, or ErrNotFound.
func (s *Store) CurrentDataKey(ctx context.Context, subject string) (_ DataKey, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	k, err := scanDataKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+dataKeyColumns+` FROM data_keys
		WHERE subject = $1 ORDER BY version DESC LIMIT 1`), subject))
	if errors.Is(err, sql.ErrNoRows) {
		return DataKey{}, ErrNotFound
	}
	if err != nil {
		return DataKey{}, fmt.Errorf("reading a data key: %w", err)
	}
	return k, nil
}

// DataKeys lists keys ordered by subject and version, starting after the
// key (afterSubject, afterVersion) (an empty subject: from the start), at
// most limit of them; with a subject, only that subject's keys.
func (s *Store) DataKeys(ctx context.Context, subject, afterSubject string, afterVersion, limit int) ([]DataKey, error) {
	if subject != "" {
		return s.dataKeys(ctx, "listing data keys", `SELECT `+dataKeyColumns+` FROM data_keys WHERE subject = $1 ORDER BY version`, subject)
	}
	return s.dataKeys(ctx, "listing data keys", `SELECT `+dataKeyColumns+` FROM data_keys
		WHERE subject > $1 OR (subject = $1 AND version > $2) ORDER BY subject, version LIMIT $3`, afterSubject, afterVersion, limit)
}

// DataKeysWrappedBefore returns up to limit keys wrapped by a KEK version
// older than kekVersion, by id after the id `after`: the work list of a
// KEK rewrap, which can stop and resume anywhere.
func (s *Store) DataKeysWrappedBefore(ctx context.Context, kekVersion int, after string, limit int) ([]DataKey, error) {
	return s.dataKeys(ctx, "listing data keys to rewrap", `SELECT `+dataKeyColumns+` FROM data_keys
		WHERE kek_version < $1 AND key_id > $2 ORDER BY key_id LIMIT $3`, kekVersion, after, limit)
}

// CountDataKeys returns how many keys there are, and how many of them are
// wrapped by a KEK version older than kekVersion.
func (s *Store) CountDataKeys(ctx context.Context, kekVersion int) (total, older int64, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN kek_version < $1 THEN 1 ELSE 0 END), 0) FROM data_keys`), kekVersion).Scan(&total, &older)
	if err != nil {
		return 0, 0, fmt.Errorf("counting data keys: %w", err)
	}
	return total, older, nil
}

// RewrapDataKey replaces a key's wrapping, only if it is still wrapped by
// oldKEK: a rewrap that raced another one changes nothing. It reports
// whether the row was changed.
func (s *Store) RewrapDataKey(ctx context.Context, keyID string, oldKEK, newKEK int, wrapped []byte) (_ bool, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE data_keys SET kek_version = $3, wrapped = $4 WHERE key_id = $1 AND kek_version = $2`),
		keyID, oldKEK, newKEK, wrapped)
	if err != nil {
		return false, fmt.Errorf("rewrapping a data key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("rewrapping a data key: %w", err)
	}
	return n == 1, nil
}

// ReserveDataKeyUses adds n to the key's use count and returns the new
// count: a gateway reserves encryptions in blocks, so the count bounds the
// messages of every gateway together, even across crashes.
func (s *Store) ReserveDataKeyUses(ctx context.Context, keyID string, n int64) (_ int64, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	var used int64
	err = s.db.QueryRowContext(ctx, s.q(`UPDATE data_keys SET used = used + $2 WHERE key_id = $1 RETURNING used`), keyID, n).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reserving data key uses: %w", err)
	}
	return used, nil
}

// ShredSubject deletes every data key of subject and records a tombstone
// (a hash of the subject, never the subject) so that other gateways drop
// the keys they hold in memory. It returns how many keys were deleted.
func (s *Store) ShredSubject(ctx context.Context, subject string, subjectHash []byte, at time.Time) (_ int, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM data_keys WHERE subject = $1`), subject)
	if err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO key_shreds (subject_hash, shredded_at) VALUES ($1, $2)`), subjectHash, at.Unix()); err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	return int(n), nil
}

// ShredsSince returns the subject hashes shredded at or after since (Unix
// seconds), and forgets tombstones older than forgetBefore.
func (s *Store) ShredsSince(ctx context.Context, since, forgetBefore time.Time) (_ [][]byte, err error) {
	ctx, done := s.call(ctx)
	defer func() { err = done(err) }()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM key_shreds WHERE shredded_at < $1`), forgetBefore.Unix()); err != nil {
		return nil, fmt.Errorf("forgetting old shreds: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT subject_hash FROM key_shreds WHERE shredded_at >= $1`), since.Unix())
	if err != nil {
		return nil, fmt.Errorf("reading shreds: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("reading shreds: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
