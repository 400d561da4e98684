// Package audit owns the tamper-evident audit log: one canonical event per
// request, appended to a local file where every record carries a hash
// chain link, hashed into an RFC 6962 Merkle tree whose roots are signed
// (Ed25519, as signed notes) into checkpoints at an interval and on close;
// and the verifier that recomputes all of it and names the first bad
// record or checkpoint.
//
// The log is a series of segment files (events.log, events-000001.log,
// ...; see segments.go) of records [4-byte big-endian length][32-byte
// chain hash][event]; chain_i = SHA-256("rampart-audit-chain-v1" || chain_i-1 ||
// leaf_i), leaf_i the RFC 6962 leaf hash of event i, chain_-1 zero. The
// checkpoints file holds length-prefixed signed notes whose text is
// "rampart-audit-v1\n<origin>\n<size>\n<root, base64>\n<time, RFC 3339>\n".
//
// Appends are group-committed by one writer goroutine: with Sync, Append
// returns once its batch is on disk (fsync), so an acknowledged event
// survives kill -9; without, Append returns once the event is queued (a
// full queue blocks, never drops), batches are written as they come and
// synced at each checkpoint. A torn last record found when the log is opened is
// moved aside to a .torn file and reported, never silently dropped.
//
// It does not own sinks, queries or anomaly detection (later work), nor
// what an event says (EventFrom builds it from the exchange).
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// File names inside the audit directory.
const (
	LogFile         = "events.log"
	CheckpointsFile = "checkpoints"
	KeyFile         = "audit-key"
	PublicKeyFile   = "audit-key.pub"
)

const (
	keyName          = "rampart-audit" // the signed notes' key name
	checkpointHeader = "rampart-audit-v1"
	chainDomain      = "rampart-audit-chain-v1"
	maxRecord        = 1 << 20 // an event larger than this is a corrupt length
)

// Options configures a Log.
type Options struct {
	// Dir holds the log, its checkpoints and its signing key.
	Dir string
	// Origin names the log in its checkpoints (the gateway's name).
	Origin string
	// Sync makes Append wait until its event is on disk.
	Sync bool
	// CheckpointEvery is the interval between signed checkpoints (and at
	// Close). Default 1m.
	CheckpointEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
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
	// together unnoticed.
	Remote CheckpointStore
}

// CheckpointStore keeps copies of checkpoints.
type CheckpointStore interface {
	SaveAuditCheckpoint(ctx context.Context, origin string, size int64, note []byte, at time.Time) error
}

// Log is an open audit log. Append is safe for concurrent use.
type Log struct {
	opt    Options
	f      *os.File
	w      *bufio.Writer // buffers f; guarded by mu
	cp     *os.File
	signer note.Signer

	reqs chan *appendReq
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu sync.Mutex // guards the tree state and files below (writer and checkpoints)
	treeState
	seg      int       // the current segment's number
	segBytes int64     // its size
	segOpen  time.Time // when it was started
	lastCP   int64
	err      error // a write failure: the log stops accepting events
}

type appendReq struct {
	payload []byte
	done    chan error
}

// Open opens (or creates) the log in opt.Dir.
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
	if opt.Fsync == nil {
		opt.Fsync = (*os.File).Sync
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Origin == "" || strings.ContainsAny(opt.Origin, "\n\r") {
		opt.Origin = "rampart"
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	signer, err := loadOrCreateKey(opt.Dir, keyName)
	if err != nil {
		return nil, err
	}
	l := &Log{opt: opt, signer: signer, reqs: make(chan *appendReq, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.recover(); err != nil {
		return nil, err
	}
	cp, err := os.OpenFile(filepath.Join(opt.Dir, CheckpointsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		_ = l.f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.cp = cp
	l.w = bufio.NewWriterSize(l.f, 64<<10)
	go l.writer()
	return l, nil
}

// recover reads the existing segments to rebuild the chain and the tree,
// moves a torn tail of the last segment aside, and opens that segment for
// appending.
func (l *Log) recover() error {
	var st treeState
	_, last, good, err := eachRecord(l.opt.Dir, func(first treeState) { st = first }, func(_ int64, chain [32]byte, payload []byte) error {
		st.add(chain, tlog.RecordHash(payload))
		return nil
	})
	l.treeState = st
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
		return fmt.Errorf("audit: %s: %w", l.opt.Dir, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if torn != nil {
		if err := f.Truncate(good); err != nil {
			_ = f.Close()
			return fmt.Errorf("audit: %w", err)
		}
	} else if fi, err := f.Stat(); err == nil {
		good = fi.Size()
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
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
// current one, oldest first so that what remains is contiguous.
func (l *Log) prune() {
	if l.opt.Retention <= 0 {
		return
	}
	ks, err := segments(l.opt.Dir)
	if err != nil {
		return
	}
	cutoff := l.opt.Now().Add(-l.opt.Retention)
	for _, k := range ks {
		if k == l.seg {
			return
		}
		fi, err := os.Stat(filepath.Join(l.opt.Dir, segName(k)))
		if err != nil || fi.ModTime().After(cutoff) {
			return
		}
		// The next segment's start file now anchors the log.
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
	select {
	case l.reqs <- r: // a full queue blocks: an event is never dropped
	case <-l.done:
		return errors.New("audit: the log is closed")
	}
	if r.done == nil {
		return nil // written by the writer's next batch, synced at the next checkpoint
	}
	return <-r.done
}

func (l *Log) writer() {
	defer close(l.done)
	t := time.NewTicker(l.opt.CheckpointEvery)
	defer t.Stop()
	// Without Sync, batches gather in the buffer and reach the file every
	// few milliseconds (or when 32 KiB are waiting): one write for many
	// requests even when they come one at a time.
	flush := time.NewTicker(5 * time.Millisecond)
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
		case <-flush.C:
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		case <-t.C:
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
	var hdr [4]byte
	for _, r := range batch {
		leaf := tlog.RecordHash(r.payload)
		chain := chainNext(l.chain, leaf)
		binary.BigEndian.PutUint32(hdr[:], uint32(len(r.payload))) // #nosec G115 -- bounded by maxRecord
		_, _ = w.Write(hdr[:])
		_, _ = w.Write(chain[:])
		_, _ = w.Write(r.payload)
		l.treeState.add(chain, leaf)
		l.segBytes += int64(36 + len(r.payload))
	}
	if l.opt.Sync || w.Buffered() >= 32<<10 {
		l.flushLocked()
		if l.err == nil && l.opt.Sync {
			l.fail(l.opt.Fsync(l.f))
		}
	}
	if l.err == nil && (l.segBytes >= l.opt.MaxSegmentBytes || l.opt.Now().Sub(l.segOpen) >= l.opt.MaxSegmentAge) {
		l.rotate()
	}
	return l.err
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

// Checkpoint signs the current tree head into the checkpoints file (once
// per new size).
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size == l.lastCP || l.err != nil {
		return l.err
	}
	l.flushLocked()
	if l.err != nil {
		return l.err
	}
	if err := l.opt.Fsync(l.f); err != nil { // a checkpoint never covers records not on disk
		return err
	}
	root := l.root()
	text := fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", checkpointHeader, l.opt.Origin, l.size,
		base64.StdEncoding.EncodeToString(root[:]), l.opt.Now().UTC().Format(time.RFC3339Nano))
	msg, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg))) // #nosec G115 -- a note is small
	if _, err := l.cp.Write(append(hdr[:], msg...)); err != nil {
		return err
	}
	if err := l.opt.Fsync(l.cp); err != nil {
		return err
	}
	l.lastCP = l.size
	if l.opt.Remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.opt.Remote.SaveAuditCheckpoint(ctx, l.opt.Origin, l.size, msg, l.opt.Now()); err != nil {
			// The local checkpoint stands; the next one will be copied.
			l.opt.Logger.Error("audit: the checkpoint could not be copied to the shared store", "size", l.size, "error", err)
		}
		cancel()
	}
	return nil
}

// Size returns the number of records written so far (queued events not
// yet included).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Close writes what is queued, a last checkpoint, and closes the files.
func (l *Log) Close() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		err = l.Checkpoint()
		if e := l.f.Close(); err == nil {
			err = e
		}
		if e := l.cp.Close(); err == nil {
			err = e
		}
	})
	return err
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

// loadOrCreateKey reads the log's note signing key, or makes one (and
// writes its verifier key beside it for `rampart audit verify`).
func loadOrCreateKey(dir, origin string) (note.Signer, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's audit dir
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(nil, origin)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, PublicKeyFile), []byte(vkey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		b = []byte(skey)
	} else if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	s, err := note.NewSigner(string(trimNL(b)))
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	return s, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// LastOrigin returns the origin named by the newest checkpoint in dir, or
// "" when there is none: a tool that appends to a stopped gateway's log
// (rampart keys shred --data DIR) keeps the gateway's name.
func LastOrigin(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, CheckpointsFile)) // #nosec G304 -- the operator's audit dir
	if err != nil {
		return ""
	}
	i := bytes.LastIndex(b, []byte(checkpointHeader+"\n"))
	if i < 0 {
		return ""
	}
	rest := b[i+len(checkpointHeader)+1:]
	if j := bytes.IndexByte(rest, '\n'); j > 0 {
		return string(rest[:j])
	}
	return ""
}
