// Package scantest is rampart scan's own test target: a deliberately
// vulnerable API with one instance of every weakness the scanner checks
// for, and its fixed twin, which closes each one the way a careful API
// would. The scanner's tests require every rule to fire on the vulnerable
// twin and no finding of medium severity or above on the fixed one.
//
// It is test code: never serve it outside a test.
package scantest

import (
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spec is the OpenAPI document both twins serve and follow.
//
//go:embed openapi.yaml
var Spec []byte

// Secret is the HMAC key the vulnerable twin signs its tokens with: a
// dictionary word, on purpose.
const Secret = "secret"

// API is one twin. It is safe for concurrent use.
type API struct {
	fixed bool
	jwt   *keys

	mu    sync.Mutex // guards users, notes, nextID, hits
	users map[string]*user
	notes map[string]*note
	next  int
	hits  map[string][]time.Time
}

type user struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	Role         string `json:"role"`
	Card         string `json:"card_number"`
	PasswordHash string `json:"password_hash,omitempty"`
}

type note struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// New returns the vulnerable twin, or the fixed one.
func New(fixed bool) *API {
	a := &API{fixed: fixed, notes: map[string]*note{}, hits: map[string][]time.Time{}}
	a.jwt = newKeys(fixed)
	a.users = map[string]*user{
		"alice": {ID: "alice", Name: "Alice", Email: "alice@example.com", Role: "admin", Card: "4111111111111111", PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"},
		"bob":   {ID: "bob", Name: "Bob", Email: "bob@example.com", Role: "user", Card: "5555555555554444", PasswordHash: "$2a$10$bcdefghijklmnopqrstuvw"},
		"carol": {ID: "carol", Name: "Carol", Email: "carol@example.com", Role: "user", Card: "378282246310005", PasswordHash: "$2a$10$cdefghijklmnopqrstuvwx"},
	}
	return a
}

// Token returns a valid token for a user of this twin: RS256 for alice,
// HS256 for the others.
func (a *API) Token(sub string) string {
	claims := map[string]any{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	if sub == "alice" {
		return a.jwt.signRS256(claims)
	}
	return a.jwt.signHS256(claims)
}

// caller returns the authenticated user, or nil.
func (a *API) caller(r *http.Request) *user {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil
	}
	var sub string
	if a.fixed {
		sub, ok = a.jwt.verifyStrict(tok, time.Now())
	} else {
		sub, ok = a.jwt.verifyNaive(r.Context(), tok)
	}
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.users[sub]
}

// limited is the fixed twin's rate limit: 10 requests a second per caller.
func (a *API) limited(key string) bool {
	if !a.fixed {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	recent := a.hits[key][:0]
	for _, t := range a.hits[key] {
		if now.Sub(t) < time.Second {
			recent = append(recent, t)
		}
	}
	a.hits[key] = append(recent, now)
	return len(recent) >= 20
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"title":%q,"status":%d}`, http.StatusText(status), status)
}

// Handler serves the twin.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(Spec)
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.jwt.jwks())
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	authed := func(h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u := a.caller(r)
			if u == nil {
				problem(w, http.StatusUnauthorized)
				return
			}
			if a.limited(u.ID) {
				w.Header().Set("Retry-After", "1")
				problem(w, http.StatusTooManyRequests)
				return
			}
			h(w, r, u)
		}
	}
	newInjections(a.fixed).register(mux, authed)
	(&extras{fixed: a.fixed, token: a.Token, failures: map[string]int{}}).register(mux, authed)
	mux.HandleFunc("GET /users", authed(a.listUsers))
	mux.HandleFunc("GET /users/{id}", authed(a.getUser))
	mux.HandleFunc("PUT /users/{id}", authed(a.putUser))
	mux.HandleFunc("GET /admin/stats", authed(a.stats))
	mux.HandleFunc("GET /notes", authed(a.listNotes))
	mux.HandleFunc("POST /notes", authed(a.createNote))
	mux.HandleFunc("GET /notes/{id}", authed(a.getNote))
	mux.HandleFunc("PUT /notes/{id}", authed(a.putNote))
	mux.HandleFunc("DELETE /notes/{id}", authed(a.deleteNote))
	mux.HandleFunc("DELETE /admin/notes/{id}", authed(a.adminDeleteNote))
	mux.HandleFunc("GET /note-lookup", authed(a.lookupNote))
	mux.HandleFunc("POST /note-export", authed(a.exportNote))
	report := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"quarter": "Q3", "revenue": 1200000, "customers": 340})
	}
	if a.fixed {
		mux.HandleFunc("GET /reports", authed(func(w http.ResponseWriter, r *http.Request, _ *user) { report(w, r) }))
	} else {
		// Vulnerable: the report needs no token at all.
		mux.HandleFunc("GET /reports", report)
	}
	if a.fixed {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Strict-Transport-Security", "max-age=31536000")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cache-Control", "no-store")
			if o := r.Header.Get("Origin"); o == "https://app.example.com" {
				h.Set("Access-Control-Allow-Origin", o)
			}
			mux.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Vulnerable: the software and its version, and CORS that trusts
		// every origin with credentials.
		h.Set("Server", "Apache/2.4.49 (Unix)")
		h.Set("X-Powered-By", "PHP/7.4.3")
		if o := r.Header.Get("Origin"); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		// Vulnerable: TRACE echoes the request.
		if r.Method == "TRACE" {
			h.Set("Content-Type", "message/http")
			_ = r.Write(w)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// TLSConfig returns the twin's server TLS settings: TLS 1.0 and CBC
// suites on the vulnerable one, TLS 1.2+ with AEAD suites on the fixed one.
func (a *API) TLSConfig() *tls.Config {
	if a.fixed {
		return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}}
	}
	return &tls.Config{MinVersion: tls.VersionTLS10, CipherSuites: []uint16{ // #nosec G402 -- deliberately weak test target
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
}

// view is what a caller may see of a user: the fixed twin masks the card
// and never returns the password hash (an undeclared member).
func (a *API) view(u *user) any {
	c := *u
	if a.fixed {
		c.Card = "************" + u.Card[len(u.Card)-4:]
		c.PasswordHash = ""
	}
	return &c
}

func (a *API) listUsers(w http.ResponseWriter, _ *http.Request, me *user) {
	if a.fixed && me.Role != "admin" {
		problem(w, http.StatusForbidden)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []any
	for _, id := range []string{"alice", "bob", "carol"} {
		out = append(out, a.view(a.users[id]))
	}
	writeJSON(w, 200, out)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, me *user) {
	id := r.PathValue("id")
	if a.fixed && id != me.ID && me.Role != "admin" {
		problem(w, http.StatusForbidden)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		problem(w, http.StatusNotFound)
		return
	}
	writeJSON(w, 200, a.view(u))
}

func (a *API) putUser(w http.ResponseWriter, r *http.Request, me *user) {
	id := r.PathValue("id")
	if a.fixed && id != me.ID {
		problem(w, http.StatusForbidden)
		return
	}
	var patch map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&patch); err != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		problem(w, http.StatusNotFound)
		return
	}
	for k, v := range patch {
		s, _ := v.(string)
		switch k {
		case "name":
			u.Name = s
		case "email":
			u.Email = s
		case "role":
			if !a.fixed { // Vulnerable: mass assignment.
				u.Role = s
			}
		}
	}
	writeJSON(w, 200, a.view(u))
}

func (a *API) stats(w http.ResponseWriter, _ *http.Request, me *user) {
	if a.fixed && me.Role != "admin" {
		problem(w, http.StatusForbidden)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	writeJSON(w, 200, map[string]int{"users": len(a.users), "notes": len(a.notes)})
}

func (a *API) listNotes(w http.ResponseWriter, r *http.Request, me *user) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil && !a.fixed {
			// Vulnerable: the error goes out with a stack trace.
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "panic: strconv.Atoi: parsing %q: invalid syntax\n\ngoroutine 42 [running]:\nmain.listNotes(...)\n\t/home/app/notes/handlers.go:118 +0x1d4\n", v)
			return
		}
		if err != nil || n < 1 {
			problem(w, http.StatusBadRequest)
			return
		}
		limit = n
	}
	if a.fixed && limit > 100 {
		limit = 100
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []any{}
	for _, n := range a.notes {
		if n.Owner == me.ID {
			out = append(out, n)
		}
	}
	// Padding items: the list has as many entries as asked for, so that
	// an unbounded limit shows.
	for i := len(out); i < limit; i++ {
		out = append(out, map[string]any{"id": "archived-" + strconv.Itoa(i), "owner": me.ID, "title": "archived", "text": ""})
	}
	writeJSON(w, 200, map[string]any{"items": out})
}

func (a *API) createNote(w http.ResponseWriter, r *http.Request, me *user) {
	var in note
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	n := &note{ID: "n" + strconv.Itoa(a.next), Owner: me.ID, Title: in.Title, Text: in.Text}
	if in.Owner != "" && !a.fixed {
		// Vulnerable: mass assignment at creation, a note in another's name.
		n.Owner = in.Owner
	}
	a.notes[n.ID] = n
	writeJSON(w, http.StatusCreated, n)
}

func (a *API) note(w http.ResponseWriter, r *http.Request, me *user) *note {
	return a.noteByID(w, r.PathValue("id"), me)
}

func (a *API) noteByID(w http.ResponseWriter, id string, me *user) *note {
	n, ok := a.notes[id]
	if !ok {
		problem(w, http.StatusNotFound)
		return nil
	}
	if a.fixed && n.Owner != me.ID {
		problem(w, http.StatusNotFound)
		return nil
	}
	return n
}

// lookupNote is GET /note-lookup?note_id=: the same object by a query id.
func (a *API) lookupNote(w http.ResponseWriter, r *http.Request, me *user) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.noteByID(w, r.URL.Query().Get("note_id"), me); n != nil {
		writeJSON(w, 200, n)
	}
}

// exportNote is POST /note-export {"note_id": ...}: the same object by a
// body id.
func (a *API) exportNote(w http.ResponseWriter, r *http.Request, me *user) {
	var in struct {
		NoteID string `json:"note_id"`
		Format string `json:"format"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in) != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.noteByID(w, in.NoteID, me); n != nil {
		writeJSON(w, 200, map[string]any{"format": in.Format, "note": n})
	}
}

func (a *API) getNote(w http.ResponseWriter, r *http.Request, me *user) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.note(w, r, me); n != nil {
		writeJSON(w, 200, n)
	}
}

func (a *API) putNote(w http.ResponseWriter, r *http.Request, me *user) {
	body := r.Body
	if a.fixed {
		body = http.MaxBytesReader(w, r.Body, 1<<20)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge)
		return
	}
	var in map[string]any
	if json.Unmarshal(b, &in) != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.note(w, r, me)
	if n == nil {
		return
	}
	if t, ok := in["title"].(string); ok {
		n.Title = t
	}
	if t, ok := in["text"].(string); ok {
		n.Text = t
	}
	writeJSON(w, 200, n)
}

// adminDeleteNote is DELETE /admin/notes/{id}, moderation: an
// administrator deletes anyone's note.
func (a *API) adminDeleteNote(w http.ResponseWriter, r *http.Request, me *user) {
	if a.fixed && me.Role != "admin" {
		problem(w, http.StatusForbidden)
		return
	}
	// Vulnerable: no role check, so any caller moderates.
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.notes[r.PathValue("id")]; !ok {
		problem(w, http.StatusNotFound)
		return
	}
	delete(a.notes, r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) deleteNote(w http.ResponseWriter, r *http.Request, me *user) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.note(w, r, me); n != nil {
		delete(a.notes, n.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}
