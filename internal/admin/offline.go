package admin

import (
	"context"
	"fmt"
	"io"

	"github.com/rampart-gw/rampart/internal/keyring"
)

// OfflineKeys administers data keys without a running gateway: on a
// stopped gateway's store and KEK (rampart keys --data or -c), recording
// what it changes as administrative events, as the admin API does. It
// offers the same operations as the admin API's Client.
type OfflineKeys struct {
	ring     *keyring.Keyring
	record   Recorder
	progress io.Writer
}

// NewOfflineKeys administers ring's data keys, recording each change with
// record (nil: not recorded) and writing rewrap progress to progress
// (nil: none).
func NewOfflineKeys(ring *keyring.Keyring, record Recorder, progress io.Writer) *OfflineKeys {
	if record == nil {
		record = func(string, string, string) {}
	}
	return &OfflineKeys{ring: ring, record: record, progress: progress}
}

// ListDataKeys lists data key versions (of one subject, or a page of all).
func (l *OfflineKeys) ListDataKeys(ctx context.Context, subject, after string, limit int) (KeysPage, error) {
	keys, next, err := l.ring.List(ctx, subject, after, limit)
	if err != nil {
		return KeysPage{}, err
	}
	return KeysPage{Keys: keys, Next: next}, nil
}

// RotateDataKey makes a new key version for subject.
func (l *OfflineKeys) RotateDataKey(ctx context.Context, subject string) (RotateResult, error) {
	v, err := l.ring.Rotate(ctx, subject)
	if err != nil {
		return RotateResult{}, err
	}
	l.record("keys.rotated", subject, fmt.Sprintf("version %d (offline)", v))
	return RotateResult{Subject: subject, Version: v}, nil
}

// RewrapDataKeys rewraps every data key under the newest KEK version.
func (l *OfflineKeys) RewrapDataKeys(ctx context.Context) (keyring.RewrapResult, error) {
	res, err := l.ring.Rewrap(ctx, func(done int64) {
		if l.progress != nil {
			fmt.Fprintf(l.progress, "\rrewrapped %d data keys", done)
		}
	})
	if l.progress != nil {
		fmt.Fprintln(l.progress)
	}
	if res.Rewrapped > 0 || err == nil {
		l.record("keys.rewrapped", "", fmt.Sprintf("%d data keys and %d signing keys to KEK version %d (offline)", res.Rewrapped, res.SigningKeysResealed, res.KEKVersion))
	}
	return res, err
}

// ShredSubject destroys every key version of subject.
func (l *OfflineKeys) ShredSubject(ctx context.Context, subject string) (ShredResult, error) {
	n, err := l.ring.Shred(ctx, subject)
	if err != nil {
		return ShredResult{}, err
	}
	l.record("keys.shredded", subject, fmt.Sprintf("%d data key versions destroyed (offline)", n))
	return ShredResult{Subject: subject, Destroyed: n}, nil
}
