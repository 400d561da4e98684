// Package audit owns the tamper-evident audit log: the canonical event of
// each request, admin action and alert (Event, EventFrom, query
// redaction); the Observer that appends it, a pipeline.Committer; local
// segment files whose records carry a hash-chain link; an RFC 6962 Merkle
// tree, its stored hashes (the hashes file) and heads signed with the
// log's Ed25519 key (audit-key) into C2SP checkpoints at an interval and
// on close, published to the shared store and to witnesses; inclusion and
// consistency proofs (Prove, CheckProof, Log.ProveConsistency); reading
// (Each, Follow); and the verifier, which recomputes all of it, names the
// first bad record or checkpoint, counts the records no signature covers
// yet, and checks the log against the copies kept elsewhere. docs/audit.md
// has the format and the threat model.
//
// The log is a series of segment files (events.log, events-000001.log,
// ...; see segments.go) of records [4-byte big-endian length][32-byte
// chain hash][event]; chain_i = SHA-256("rampart-audit-chain-v1" || chain_i-1 ||
// leaf_i), leaf_i the RFC 6962 leaf hash of event i, chain_-1 zero. The
// checkpoints file holds the signed checkpoints (checkpoint.go); every
// checkpoint's tree ends with a record naming the checkpoint before it,
// and retention deletes segments only after a signed record allows it.
//
// Appends are group-committed by one writer goroutine: with Sync, Append
// returns once its batch is on disk (fsync), so an acknowledged event
// survives kill -9; without, Append returns once the event is queued (a
// full queue blocks, never drops); batches are flushed every few
// milliseconds and synced at each checkpoint. The first write failure
// stops the log. A torn last record or checkpoint found when the log is
// opened is moved aside (FILE.torn-UNIXTIME) and reported, never silently
// dropped.
//
// It also owns the sinks that copy events elsewhere (stdout, file, syslog,
// webhook), built from audit.sinks by OpenSinks. It does not own search or
// anomaly detection, the Exchange an event is built from
// (package pipeline), or the witness protocol (internal/witness publishes
// through the Publisher interface).
package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/secretfile"
)

// File names inside the audit directory.
const (
	LogFile         = "events.log"
	CheckpointsFile = "checkpoints"
	KeyFile         = "audit-key"
	PublicKeyFile   = "audit-key.pub"
)

const (
	keyName     = "rampart-audit" // the signing key's name when the origin cannot be one
	chainDomain = "rampart-audit-chain-v1"
	startDomain = "rampart-audit-start-v1"
	maxRecord   = 1 << 20 // an event larger than this is a corrupt length
)

// Options configures a Log.
type Options struct {
	// Dir holds the log, its checkpoints and its signing key.
	Dir string
	// Origin names the log: the first line of its checkpoints, which
	// witnesses know it by, and the name of a new signing key. It must
	// pass CheckOrigin. Default "rampart".
	Origin string
	// Sync makes Append wait until its event is on disk.
	Sync bool
	// CheckpointEvery is the interval between signed checkpoints (and at
	// Close). Default 1m.
	CheckpointEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Clock paces the writer: its checkpoints and its flushes. Default
	// the system clock.
	Clock background.Clock
	// Logger reports torn records and write failures.
	Logger *slog.Logger
	// MaxSegmentBytes and MaxSegmentAge start a new segment file when the
	// current one reaches either. Defaults 64 MiB and 24h.
	MaxSegmentBytes int64
	MaxSegmentAge   time.Duration
	// Retention deletes segments older than this (never the current one);
	// 0 keeps everything. The log still verifies from its oldest segment.
	Retention time.Duration
	// Fsync makes a file's writes durable; default (*os.File).Sync. Fault
	// tests put a slow or failing disk here.
	Fsync func(*os.File) error
	// Remote, when set, keeps a copy of every checkpoint away from this
	// gateway's disk (the cluster's shared store), so that whoever
	// controls this disk cannot rewrite the log and its checkpoints
	// together unnoticed. It is published like Publishers, after them.
	Remote CheckpointStore
	// Publishers get every new checkpoint (witnesses), on a goroutine of
	// their own.
	Publishers []Publisher
	// PublishTimeout bounds one publisher's delivery of one checkpoint.
	// Default 10s.
	PublishTimeout time.Duration
}

// CheckpointStore keeps copies of checkpoints.
type CheckpointStore interface {
	SaveAuditCheckpoint(ctx context.Context, origin string, size int64, note []byte, at time.Time) error
}

// Log is an open audit log. Append is safe for concurrent use.
type Log struct {
	opt      Options
	f        *os.File
	w        *bufio.Writer // buffers f; guarded by mu
	cp       *os.File
	signer   note.Signer
	verifier note.Verifier
	pub      *publishing // nil without publishers

	reqs chan *appendReq
	stop chan struct{}
	done chan struct{}
	once sync.Once
	// closeMu orders Appends before Close: an Append enqueues under the
	// read lock, and Close sets closed under the write lock before it
	// stops the writer, so no event is queued after the writer's last
	// drain (where it would be lost, or its Sync caller wait forever).
	closeMu sync.RWMutex
	closed  bool

	mu sync.Mutex // guards the tree state and files below (writer and checkpoints)
	treeState
	hashes   *hashFile   // the stored hashes; nil when proofs are unavailable
	stored   []tlog.Hash // scratch for one record's stored hashes
	seg      int         // the current segment's number
	segBytes int64       // its size
	segOpen  time.Time   // when it was started
	last     lastCheckpoint
	err      error // a write failure: the log stops accepting events
}

// lastCheckpoint is the newest checkpoint in the checkpoints file.
type lastCheckpoint struct {
	valid bool
	size  int64
	root  tlog.Hash
}

type appendReq struct {
	payload []byte
	done    chan error
}

// Open opens (or creates) the log in opt.Dir. A log whose records do not
// match its newest checkpoint (records lost or altered while the gateway
// was stopped) is refused: run `rampart audit verify`, keep the evidence,
// and move the directory aside.
func Open(opt Options) (*Log, error) {
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = time.Minute
	}
	if opt.MaxSegmentBytes <= 0 {
		opt.MaxSegmentBytes = 64 << 20
	}
	if opt.MaxSegmentAge <= 0 {
		opt.MaxSegmentAge = 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Clock == nil {
		opt.Clock = background.System()
	}
	if opt.Fsync == nil {
		opt.Fsync = (*os.File).Sync
	}
	if opt.PublishTimeout <= 0 {
		opt.PublishTimeout = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Origin == "" {
		opt.Origin = "rampart"
	}
	if err := CheckOrigin(opt.Origin); err != nil {
		return nil, fmt.Errorf("audit: the origin %q: %w", opt.Origin, err)
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	signer, verifier, err := loadOrCreateKey(opt.Dir, opt.Origin)
	if err != nil {
		return nil, err
	}
	l := &Log{opt: opt, signer: signer, verifier: verifier, reqs: make(chan *appendReq, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.recoverCheckpoints(); err != nil {
		return nil, err
	}
	if err := l.recover(); err != nil {
		return nil, err
	}
	cp, err := os.OpenFile(filepath.Join(opt.Dir, CheckpointsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		_ = l.closeFiles() // the error being returned is the one that matters
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.cp = cp
	l.w = bufio.NewWriterSize(l.f, 64<<10)
	pubs := append([]Publisher(nil), opt.Publishers...)
	if opt.Remote != nil {
		pubs = append(pubs, StorePublisher(opt.Remote))
	}
	if len(pubs) > 0 {
		l.pub = startPublishing(pubs, opt.PublishTimeout, opt.Logger)
	}
	if l.size > l.last.size {
		// Records after the newest checkpoint (a crash, or an offline
		// tool's appends): sign them now rather than a minute from now.
		l.mu.Lock()
		err := l.checkpointLocked()
		l.mu.Unlock()
		if err != nil {
			opt.Logger.Error("audit: the records found after the last checkpoint could not be checkpointed", "error", err)
		}
	}
	go l.writer()
	return l, nil
}

// recoverCheckpoints moves a torn last checkpoint (a crash while one was
// written) aside and reads the newest one, whose size and root the next
// checkpoint record names.
func (l *Log) recoverCheckpoints() error {
	entries, good, torn, err := readCheckpointsFile(l.opt.Dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	path := filepath.Join(l.opt.Dir, CheckpointsFile)
	if torn {
		b, err := os.ReadFile(path) // #nosec G304 -- the operator's audit dir
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		aside := path + ".torn-" + strconv.FormatInt(l.opt.Now().Unix(), 10)
		if err := os.WriteFile(aside, b[good:], 0o600); err != nil { // #nosec G703 -- beside the file, in the operator's audit dir
			return fmt.Errorf("audit: %w", err)
		}
		if err := os.Truncate(path, good); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		l.opt.Logger.Error("audit: the last checkpoint was torn (a crash mid-write); moved aside", "bytes", int64(len(b))-good, "file", aside)
	}
	if len(entries) == 0 {
		return nil
	}
	n, err := note.Open(entries[len(entries)-1].msg, note.VerifierList(l.verifier))
	if err != nil {
		return fmt.Errorf("audit: %s: the newest checkpoint is not signed by this log's key (%v): run rampart audit verify", path, err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return fmt.Errorf("audit: %s: the newest checkpoint: %w", path, err)
	}
	l.last = lastCheckpoint{valid: true, size: c.size, root: c.root}
	return nil
}

// recover reads the existing segments to rebuild the chain, the tree and
// the hash file, moves a torn tail of the last segment aside, and opens
// that segment for appending.
func (l *Log) recover() error {
	var st treeState
	var herr error
	opened := false
	mismatch := false // the records do not lead to the newest checkpoint's root
	_, last, good, err := eachRecord(l.opt.Dir, func(first treeState) {
		st, opened = first, true
		if l.hashes, herr = openHashes(l.opt.Dir, first.size); herr == nil && l.hashes == nil {
			l.opt.Logger.Warn("audit: the hash file lacks the hashes of records that retention deleted; inclusion and consistency proofs are unavailable for this log", "file", HashesFile)
		}
		if l.last.valid && l.last.size == first.size && first.size > 0 {
			mismatch = l.last.root != first.root()
		}
	}, nil, func(_ int64, chain [32]byte, payload []byte) error {
		l.stored = l.stored[:0]
		st.add(chain, tlog.RecordHash(payload), &l.stored)
		if l.hashes != nil && herr == nil {
			herr = l.hashes.sync(l.stored)
		}
		if l.last.valid && st.size == l.last.size {
			mismatch = l.last.root != st.root()
		}
		return nil
	})
	l.treeState = st
	if !opened && herr == nil { // a new log
		l.hashes, herr = openHashes(l.opt.Dir, 0)
	}
	if herr == nil && l.hashes != nil {
		if herr = l.hashes.startWriting(); herr == nil {
			herr = l.hashes.flush()
		}
	}
	if herr != nil {
		return fmt.Errorf("audit: %s: %w", HashesFile, herr)
	}
	path := filepath.Join(l.opt.Dir, segName(last))
	var torn *TornError
	switch {
	case errors.As(err, &torn):
		// Keep the torn bytes for inspection and say so; the log goes on
		// from the last whole record.
		if b, rerr := os.ReadFile(path); rerr == nil && int64(len(b)) > good { // #nosec G304 -- the operator's audit dir
			aside := path + ".torn-" + strconv.FormatInt(l.opt.Now().Unix(), 10)
			_ = os.WriteFile(aside, b[good:], 0o600) // #nosec G703 -- beside the segment, in the operator's audit dir
			l.opt.Logger.Error("audit: the last record was torn (a crash mid-write); moved aside", "record", torn.Index, "bytes", int64(len(b))-good, "file", aside)
		}
	case err != nil:
		_ = l.closeFiles() // the error being returned is the one that matters
		return fmt.Errorf("audit: %s: %w", l.opt.Dir, err)
	}
	switch {
	case l.last.valid && l.last.size > st.size:
		_ = l.closeFiles() // the error being returned is the one that matters
		return fmt.Errorf("audit: %s has %d records but its newest checkpoint covers %d: records were lost or removed; run rampart audit verify, keep the directory as evidence and move it aside", l.opt.Dir, st.size, l.last.size)
	case mismatch:
		_ = l.closeFiles() // the error being returned is the one that matters
		return fmt.Errorf("audit: the records of %s do not match its newest checkpoint (size %d): records were altered; run rampart audit verify, keep the directory as evidence and move it aside", l.opt.Dir, l.last.size)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		_ = l.closeFiles() // the error being returned is the one that matters
		return fmt.Errorf("audit: %w", err)
	}
	if torn != nil {
		if err := f.Truncate(good); err != nil {
			_ = f.Close()
			_ = l.closeFiles() // the error being returned is the one that matters
			return fmt.Errorf("audit: %w", err)
		}
	} else if fi, err := f.Stat(); err == nil {
		good = fi.Size()
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
		_ = l.closeFiles() // the error being returned is the one that matters
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.seg, l.segBytes, l.segOpen = f, last, good, l.opt.Now()
	return nil
}

// rotate starts the next segment (l.mu held, the buffer flushed): its
// start file first, so that a crash between the two leaves a start with no
// segment (harmless) rather than a segment with no start.
func (l *Log) rotate() {
	l.flushLocked()
	if l.err != nil {
		return
	}
	l.fail(l.opt.Fsync(l.f))
	next := l.seg + 1
	if l.err == nil {
		l.fail(writeStart(l.opt.Dir, next, &l.treeState))
	}
	if l.err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(l.opt.Dir, segName(next)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		l.fail(err)
		return
	}
	_ = l.f.Close()
	l.f, l.seg, l.segBytes, l.segOpen = f, next, 0, l.opt.Now()
	l.w.Reset(f)
	l.prune()
}

// prune deletes the oldest segments older than the retention, never the
// current one, oldest first so that what remains is contiguous. Before it
// deletes anything it appends a retention record naming the start it
// leaves and signs a checkpoint over it: the verifier accepts a log with
// deleted segments only under such a record (l.mu held).
func (l *Log) prune() {
	if l.opt.Retention <= 0 {
		return
	}
	ks, err := segments(l.opt.Dir)
	if err != nil {
		return
	}
	cutoff := l.opt.Now().Add(-l.opt.Retention)
	del := 0
	for _, k := range ks {
		if k == l.seg {
			break
		}
		fi, err := os.Stat(filepath.Join(l.opt.Dir, segName(k)))
		if err != nil || fi.ModTime().After(cutoff) {
			break
		}
		del++
	}
	if del == 0 {
		return
	}
	keep := ks[del]
	st, err := readStart(l.opt.Dir, keep)
	if err != nil {
		l.opt.Logger.Error("audit: retention cannot read the start of the oldest segment it would keep; nothing deleted", "segment", segName(keep), "error", err)
		return
	}
	h := st.hash()
	l.appendLogRecord(logRecord{Kind: kindRetention, PrunedBefore: st.size, Start: b64(h)})
	if err := l.checkpointLocked(); err != nil {
		l.opt.Logger.Error("audit: retention could not sign its record; nothing deleted", "error", err)
		return
	}
	for _, k := range ks[:del] {
		if err := os.Remove(filepath.Join(l.opt.Dir, segName(k))); err != nil {
			l.opt.Logger.Error("audit: retention could not delete a segment", "segment", segName(k), "error", err)
			return
		}
		_ = os.Remove(filepath.Join(l.opt.Dir, startName(k)))
		l.opt.Logger.Info("audit: retention deleted a segment", "segment", segName(k))
	}
}

// emptyRoot is the tree head of no records.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

func chainNext(prev [32]byte, leaf tlog.Hash) [32]byte {
	h := sha256.New()
	h.Write([]byte(chainDomain))
	h.Write(prev[:])
	h.Write(leaf[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Append adds one event. With Sync it returns once the event is on disk;
// otherwise once it is queued for the writer.
func (l *Log) Append(payload []byte) error {
	if len(payload) > maxRecord {
		return fmt.Errorf("audit: event of %d bytes is too large", len(payload))
	}
	r := &appendReq{payload: payload}
	if l.opt.Sync {
		r.done = make(chan error, 1)
	} else {
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return errors.New("audit: the log is closed")
	}
	l.reqs <- r // a full queue blocks: an event is never dropped
	l.closeMu.RUnlock()
	if r.done == nil {
		return nil // written by the writer's next batch, synced at the next checkpoint
	}
	return <-r.done
}

func (l *Log) writer() {
	defer close(l.done)
	t := l.opt.Clock.NewTicker(l.opt.CheckpointEvery)
	defer t.Stop()
	// Without Sync, batches gather in the buffer and reach the file every
	// few milliseconds (or when 32 KiB are waiting): one write for many
	// requests even when they come one at a time.
	flush := l.opt.Clock.NewTicker(5 * time.Millisecond)
	defer flush.Stop()
	w := l.w
	var batch []*appendReq
	for {
		select {
		case r := <-l.reqs:
			batch = append(batch[:0], r)
		drain:
			for len(batch) < 512 {
				select {
				case r := <-l.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			err := l.write(w, batch)
			for _, r := range batch {
				if r.done != nil {
					r.done <- err
				}
			}
		case <-flush.Chan():
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		case <-t.Chan():
			if err := l.Checkpoint(); err != nil {
				l.opt.Logger.Error("audit: checkpoint failed", "error", err)
			}
		case <-l.stop:
			for { // what was queued before Close is still written
				select {
				case r := <-l.reqs:
					err := l.write(w, []*appendReq{r})
					if r.done != nil {
						r.done <- err
					}
				default:
					l.mu.Lock()
					l.flushLocked()
					l.mu.Unlock()
					return
				}
			}
		}
	}
}

// write appends a batch, then flushes (and syncs) once for all of it.
func (l *Log) write(w *bufio.Writer, batch []*appendReq) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	for _, r := range batch {
		l.appendLocked(w, r.payload)
	}
	if l.opt.Sync || w.Buffered() >= 32<<10 {
		l.flushLocked()
		if l.err == nil && l.opt.Sync {
			l.fail(l.opt.Fsync(l.f))
		}
	}
	if l.err == nil && !l.last.valid {
		// A new log signs its first records at once: a log with records
		// and no checkpoint is then only ever a crash in its first
		// milliseconds, and the verifier may treat it as a forgery.
		if err := l.checkpointLocked(); err != nil {
			l.opt.Logger.Error("audit: checkpoint failed", "error", err)
		}
	}
	if l.err == nil && (l.segBytes >= l.opt.MaxSegmentBytes || l.opt.Now().Sub(l.segOpen) >= l.opt.MaxSegmentAge) {
		l.rotate()
	}
	return l.err
}

// appendLocked buffers one record and adds it to the tree and the hash
// file; l.mu is held.
func (l *Log) appendLocked(w *bufio.Writer, payload []byte) {
	leaf := tlog.RecordHash(payload)
	chain := chainNext(l.chain, leaf)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload))) // #nosec G115 -- bounded by maxRecord
	_, _ = w.Write(hdr[:])
	_, _ = w.Write(chain[:])
	_, _ = w.Write(payload)
	l.stored = l.stored[:0]
	l.treeState.add(chain, leaf, &l.stored)
	l.segBytes += int64(36 + len(payload))
	if l.hashes != nil {
		if err := l.hashes.append(l.stored); err != nil {
			l.dropHashes(err)
		}
	}
}

// appendLogRecord appends one of the log's own records; l.mu is held.
func (l *Log) appendLogRecord(r logRecord) {
	r.V, r.Time = 1, l.opt.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a fixed struct of strings and numbers always encodes
	}
	l.appendLocked(l.w, b)
}

// dropHashes gives up the hash file after a write failure: proofs become
// unavailable, the log itself goes on; l.mu is held.
func (l *Log) dropHashes(err error) {
	l.opt.Logger.Error("audit: the hash file cannot be written; inclusion and consistency proofs are unavailable until restart", "error", err)
	_ = l.hashes.close()
	l.hashes = nil
}

// flushLocked writes the buffered records to the file; l.mu is held.
func (l *Log) flushLocked() {
	if l.err == nil && l.w.Buffered() > 0 {
		l.fail(l.w.Flush())
	}
}

// fail records the first write failure: the log then accepts no more
// events (a hole in it would be worse than a stop).
func (l *Log) fail(err error) {
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("audit: writing %s: %w", LogFile, err)
		l.opt.Logger.Error("audit: write failed; the log accepts no more events", "error", err)
	}
}

// Checkpoint signs the current tree head into the checkpoints file, if
// records were added since the last one, and hands it to the publishers.
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointLocked()
}

// checkpointLocked is Checkpoint with l.mu held. The tree it signs ends
// with a checkpoint record naming the checkpoint before it.
func (l *Log) checkpointLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.size == l.last.size && (l.last.valid || l.size == 0) {
		return nil
	}
	rec := logRecord{Kind: kindCheckpoint, PrevSize: l.last.size}
	if l.last.valid {
		rec.PrevRoot = b64(l.last.root)
	}
	l.appendLogRecord(rec)
	l.flushLocked()
	if l.err != nil {
		return l.err
	}
	if err := l.opt.Fsync(l.f); err != nil { // a checkpoint never covers records not on disk
		l.fail(err)
		return l.err
	}
	size, root := l.size, l.root()
	msg, err := note.Sign(&note.Note{Text: formatCheckpoint(l.opt.Origin, size, root)}, l.signer)
	if err != nil {
		return fmt.Errorf("audit: signing a checkpoint: %w", err)
	}
	if _, err := l.cp.Write(frame(msg)); err != nil {
		return fmt.Errorf("audit: writing %s: %w", CheckpointsFile, err)
	}
	if err := l.opt.Fsync(l.cp); err != nil {
		return fmt.Errorf("audit: writing %s: %w", CheckpointsFile, err)
	}
	l.last = lastCheckpoint{valid: true, size: size, root: root}
	if l.hashes != nil {
		if err := l.hashes.flush(); err != nil {
			l.dropHashes(err)
		}
	}
	if l.pub != nil {
		l.pub.offer(Published{Origin: l.opt.Origin, Size: size, Root: root, Note: msg, Time: l.opt.Now(),
			Prove: func(old int64) (tlog.TreeProof, error) { return l.ProveConsistency(old, size) }})
	}
	return nil
}

// ProveConsistency returns the RFC 6962 consistency proof from the tree
// of size old to the tree of size n (n at most the newest checkpoint's),
// from the hash file. It is safe for concurrent use.
func (l *Log) ProveConsistency(old, n int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	h, limit := l.hashes, l.last.size
	var r fileHashReader
	if h != nil {
		r = fileHashReader{f: h.r, n: h.flushed()}
	}
	l.mu.Unlock()
	switch {
	case h == nil:
		return nil, errors.New("audit: consistency proofs are unavailable: the hash file cannot serve this log")
	case old < 0 || old > n || n > limit:
		return nil, fmt.Errorf("audit: no consistency proof from %d to %d (the newest checkpoint is %d)", old, n, limit)
	}
	p, err := tlog.ProveTree(n, old, r)
	if err != nil {
		return nil, fmt.Errorf("audit: proving consistency from %d to %d: %w", old, n, err)
	}
	return p, nil
}

// Size returns the number of records written so far (queued events not
// yet included).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Close writes what is queued and a last checkpoint, delivers it to the
// publishers (each bounded by its timeout), and closes the files.
func (l *Log) Close() error {
	var err error
	l.once.Do(func() {
		l.closeMu.Lock()
		l.closed = true
		l.closeMu.Unlock()
		close(l.stop)
		<-l.done
		err = l.Checkpoint()
		if l.pub != nil {
			l.pub.close()
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if e := l.closeFiles(); err == nil {
			err = e
		}
	})
	return err
}

// closeFiles closes what is open; l.mu is held or the log never ran.
func (l *Log) closeFiles() error {
	var err error
	for _, c := range []interface{ Close() error }{l.f, l.cp} {
		if c != nil && !isNilFile(c) {
			if e := c.Close(); err == nil {
				err = e
			}
		}
	}
	if l.hashes != nil {
		if e := l.hashes.close(); err == nil {
			err = e
		}
		l.hashes = nil
	}
	return err
}

func isNilFile(c interface{ Close() error }) bool {
	f, ok := c.(*os.File)
	return ok && f == nil
}

// TornError is an incomplete last record.
type TornError struct {
	Index  int64
	Offset int64
}

func (e *TornError) Error() string {
	return fmt.Sprintf("record %d at byte %d is incomplete (torn)", e.Index, e.Offset)
}

// scan reads records from r, calling fn for each, and returns the offset
// after the last whole record. A short last record is a *TornError; fn's
// error stops the scan.
func scan(r io.Reader, fn func(i int64, chain [32]byte, payload []byte) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off, i int64
	var hdr [36]byte
	for ; ; i++ {
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, &TornError{Index: i, Offset: off}
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size > maxRecord {
			return off, fmt.Errorf("record %d at byte %d: length %d is not an event's", i, off, size)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, &TornError{Index: i, Offset: off}
		}
		var chain [32]byte
		copy(chain[:], hdr[4:])
		if err := fn(i, chain, payload); err != nil {
			return off, err
		}
		off += int64(n) + int64(size)
	}
}

// loadOrCreateKey reads the log's note signing key, or makes one named
// after the origin, and writes its verifier key beside it for `rampart
// audit verify`. The signing key is created exclusively (secretfile): of
// processes opening one dir at once, one makes it and all sign with it.
// The verifier key is derived from the signing key, so whichever process
// writes a missing audit-key.pub writes the same one; one that is not the
// signing key's is an error, never silently rewritten.
func loadOrCreateKey(dir, origin string) (note.Signer, note.Verifier, error) {
	path := filepath.Join(dir, KeyFile)
	generate := func() ([]byte, error) {
		name := origin
		if CheckOrigin(name) != nil {
			name = keyName
		}
		skey, _, err := note.GenerateKey(nil, name)
		return []byte(skey + "\n"), err
	}
	b, _, err := secretfile.LoadOrCreate(path, generate, func(b []byte) error {
		_, _, err := tnote.NewEd25519SignerVerifier(string(trimNL(b)))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: signing key: %w", err)
	}
	skey := string(trimNL(b))
	s, v, err := tnote.NewEd25519SignerVerifier(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	// PRIVATE+KEY+name+hash+base64(algorithm byte | Ed25519 seed), as
	// NewEd25519SignerVerifier has just checked.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, nil, fmt.Errorf("audit: %s: not an Ed25519 signing key", path)
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	pubPath := filepath.Join(dir, PublicKeyFile)
	_, _, err = secretfile.LoadOrCreatePublic(pubPath, 0o600, func() ([]byte, error) { return []byte(vkey + "\n"), nil },
		func(b []byte) error {
			if string(trimNL(b)) != vkey {
				return fmt.Errorf("not the verifier key of %s; delete it to have it written again", path)
			}
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: verifier key: %w", err)
	}
	return s, v, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
