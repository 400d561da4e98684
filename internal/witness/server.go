package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Log is a log a witness knows: its origin and the key its checkpoints
// are signed with.
type Log struct {
	Origin   string
	Verifier note.Verifier
}

// ServerOptions configures a Server.
type ServerOptions struct {
	// Signer makes the witness's cosignatures
	// (github.com/transparency-dev/formats/note.NewSignerForCosignatureV1).
	Signer note.Signer
	// Logs are the logs it witnesses.
	Logs []Log
	// StateDir keeps the newest cosigned checkpoint of each log, one file
	// per origin, written before a cosignature is returned.
	StateDir string
	// Logger reports refused submissions (never their bodies).
	Logger *slog.Logger
}

// Server is a C2SP tlog-witness: POST /add-checkpoint cosigns a checkpoint
// consistent with the newest one it cosigned for its log; GET
// /checkpoint?origin=O returns that newest one (with the log's signature
// and the cosignature), which `rampart audit verify --witness` checks the
// log against. It is safe for concurrent use: the check of the old size
// and the write of the new state happen under one lock, so two
// submissions cannot roll its state back.
type Server struct {
	opt  ServerOptions
	logs map[string]note.Verifier

	mu sync.Mutex // serializes check-and-persist of the state files
}

// NewServer returns a witness server.
func NewServer(opt ServerOptions) (*Server, error) {
	if opt.Signer == nil {
		return nil, errors.New("witness: no signing key")
	}
	if len(opt.Logs) == 0 {
		return nil, errors.New("witness: no log to witness")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opt.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	s := &Server{opt: opt, logs: map[string]note.Verifier{}}
	for _, l := range opt.Logs {
		if _, dup := s.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: the log %q is named twice", l.Origin)
		}
		s.logs[l.Origin] = l.Verifier
	}
	return s, nil
}

// ServeHTTP implements the protocol's two calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/add-checkpoint" && r.Method == http.MethodPost:
		s.add(w, r)
	case r.URL.Path == "/checkpoint" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.latest(w, r)
	case r.URL.Path == "/add-checkpoint" || r.URL.Path == "/checkpoint":
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "the request body is too large", http.StatusRequestEntityTooLarge)
		return
	}
	req, err := parseRequest(body)
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	origin := originOf(req.note)
	v, ok := s.logs[origin]
	if !ok {
		http.Error(w, "unknown log", http.StatusNotFound)
		return
	}
	n, err := note.Open(req.note, note.VerifierList(v))
	if err != nil || !hasSignature(n, v) {
		s.opt.Logger.Warn("witness: a checkpoint not signed by its log's key", "origin", origin)
		http.Error(w, "the checkpoint is not signed by the log's key", http.StatusForbidden)
		return
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil || c.origin != origin {
		http.Error(w, "bad checkpoint", http.StatusBadRequest)
		return
	}
	if req.old > c.size {
		http.Error(w, "the old size is larger than the checkpoint's", http.StatusBadRequest)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _, err := s.load(origin)
	if err != nil {
		s.opt.Logger.Error("witness: reading the state", "origin", origin, "error", err)
		http.Error(w, "the witness cannot read its state", http.StatusInternalServerError)
		return
	}
	if req.old != cur.size {
		w.Header().Set("Content-Type", SizeType)
		w.WriteHeader(http.StatusConflict)
		_, _ = fmt.Fprintf(w, "%d\n", cur.size)
		return
	}
	switch {
	case req.old == c.size:
		if c.root != cur.root && c.size > 0 {
			s.opt.Logger.Error("witness: the log signed two roots for one size (a fork)", "origin", origin, "size", c.size)
			http.Error(w, "the root differs from the one cosigned at this size", http.StatusConflict)
			return
		}
	case req.old > 0:
		if err := tlog.CheckTree(req.proof, c.size, c.root, req.old, cur.root); err != nil {
			s.opt.Logger.Error("witness: a checkpoint inconsistent with the one cosigned before", "origin", origin,
				"old", req.old, "size", c.size, "error", err)
			http.Error(w, "the consistency proof does not verify", http.StatusUnprocessableEntity)
			return
		}
	}
	state, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, s.opt.Signer)
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	if err := s.store(origin, state); err != nil {
		s.opt.Logger.Error("witness: writing the state", "origin", origin, "error", err)
		http.Error(w, "the witness cannot keep its state", http.StatusInternalServerError)
		return
	}
	own, err := note.Sign(&note.Note{Text: n.Text}, s.opt.Signer)
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(signatureLines(own))
}

func (s *Server) latest(w http.ResponseWriter, r *http.Request) {
	origin := r.URL.Query().Get("origin")
	if _, ok := s.logs[origin]; !ok {
		http.Error(w, "unknown log", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	cur, state, err := s.load(origin)
	s.mu.Unlock()
	switch {
	case err != nil:
		http.Error(w, "the witness cannot read its state", http.StatusInternalServerError)
	case cur.size == 0 && state == nil:
		http.Error(w, "no checkpoint of this log was cosigned yet", http.StatusNotFound)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Length", strconv.Itoa(len(state)))
		_, _ = w.Write(state) // #nosec G705 -- a signed note the witness wrote itself, served as text/plain with nosniff
	}
}

// statePath names an origin's state file (origins may hold any
// character but a space or '+').
func (s *Server) statePath(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return filepath.Join(s.opt.StateDir, hex.EncodeToString(h[:16])+".checkpoint")
}

// load reads an origin's newest cosigned checkpoint; none is size 0.
func (s *Server) load(origin string) (checkpoint, []byte, error) {
	b, err := os.ReadFile(s.statePath(origin)) // #nosec G304 -- a name derived from a hash
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{origin: origin}, nil, nil
	}
	if err != nil {
		return checkpoint{}, nil, err
	}
	n, err := note.Open(b, note.VerifierList(s.logs[origin]))
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("%s: %w", s.statePath(origin), err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("%s: %w", s.statePath(origin), err)
	}
	return c, b, nil
}

// store writes an origin's state durably: a temporary file, synced, then
// renamed over the old one, and the directory synced.
func (s *Server) store(origin string, state []byte) error {
	path := s.statePath(origin)
	tmp, err := os.CreateTemp(s.opt.StateDir, ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(state); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(s.opt.StateDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
