package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/problem"
	"github.com/rampart-gw/rampart/internal/store"
)

// dataKeysAPI serves /v1/keys (data keys: list, rotate, rewrap, shred,
// admin token only) and /v1/transit (encrypt, decrypt, rewrap for
// services, per caller).
type dataKeysAPI struct {
	ring   *keyring.Keyring
	record Recorder
	want   [32]byte
	store  *store.Store
	hasher *apikey.Hasher
	now    func() time.Time
}

func (a *dataKeysAPI) routes(mux *http.ServeMux, transit bool) {
	mux.Handle("GET /v1/keys", authorized(a.want, http.HandlerFunc(a.list)))
	mux.Handle("POST /v1/keys/rotate", authorized(a.want, jsonOnly(http.HandlerFunc(a.rotate))))
	mux.Handle("POST /v1/keys/rewrap", authorized(a.want, jsonOnly(http.HandlerFunc(a.rewrap))))
	mux.Handle("POST /v1/keys/shred", authorized(a.want, jsonOnly(http.HandlerFunc(a.shred))))
	if transit {
		mux.Handle("POST /v1/transit/encrypt", jsonOnly(a.transit("encrypt", a.encrypt)))
		mux.Handle("POST /v1/transit/decrypt", jsonOnly(a.transit("decrypt", a.decrypt)))
		mux.Handle("POST /v1/transit/rewrap", jsonOnly(a.transit("rewrap", a.reencrypt)))
	}
}

// KeysPage is one page of data keys.
type KeysPage struct {
	Keys []keyring.KeyInfo `json:"keys"`
	// Next is the "after" cursor (VERSION:SUBJECT) of the next page;
	// empty on the last.
	Next string `json:"next,omitempty"`
}

func (a *dataKeysAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 1000
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			badRequest(w, errors.New("limit must be a number from 1 to 10000"))
			return
		}
		limit = n
	}
	keys, next, err := a.ring.List(r.Context(), q.Get("subject"), q.Get("after"), limit)
	if err != nil {
		internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, KeysPage{Keys: keys, Next: next})
}

// SubjectRequest names a subject.
type SubjectRequest struct {
	Subject string `json:"subject"`
}

// RotateResult is the new data key version of a subject.
type RotateResult struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (a *dataKeysAPI) rotate(w http.ResponseWriter, r *http.Request) {
	var req SubjectRequest
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	v, err := a.ring.Rotate(r.Context(), req.Subject)
	if err != nil {
		internal(w, err)
		return
	}
	a.record.record("keys.rotated", req.Subject, "version "+strconv.Itoa(v))
	writeJSON(w, http.StatusOK, RotateResult{Subject: req.Subject, Version: v})
}

func (a *dataKeysAPI) rewrap(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	res, err := a.ring.Rewrap(r.Context(), nil)
	if res.Rewrapped > 0 || err == nil {
		a.record.record("keys.rewrapped", "", fmt.Sprintf("%d data keys and %d signing keys to KEK version %d", res.Rewrapped, res.SigningKeysResealed, res.KEKVersion))
	}
	if err != nil {
		internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ShredResult says how many key versions a shred destroyed.
type ShredResult struct {
	Subject   string `json:"subject"`
	Destroyed int    `json:"destroyed"`
}

func (a *dataKeysAPI) shred(w http.ResponseWriter, r *http.Request) {
	var req SubjectRequest
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	n, err := a.ring.Shred(r.Context(), req.Subject)
	if err != nil {
		internal(w, err)
		return
	}
	a.record.record("keys.shredded", req.Subject, strconv.Itoa(n)+" data key versions destroyed")
	writeJSON(w, http.StatusOK, ShredResult{Subject: req.Subject, Destroyed: n})
}

// transitField is the field name the keyring binds into transit
// ciphertexts: its own namespace, so that no transit caller can decrypt a
// field the gateway encrypted ($.ssn) or forge one the gateway would
// show as genuine.
func transitField(f string) string { return "transit/" + f }

// caller is who called the encryption API, and which subjects it may use.
type caller struct {
	who    string
	admin  bool     // the admin token: every operation, every subject
	scopes []string // an API key's scopes
}

// allows reports whether the caller may do op (encrypt, decrypt, rewrap)
// for subject: the scope transit:OP allows every subject,
// transit:OP:SUBJECT one, and transit:OP:PREFIX* those that start with
// PREFIX.
func (c caller) allows(op, subject string) bool {
	if c.admin {
		return true
	}
	base := "transit:" + op
	for _, s := range c.scopes {
		rest, ok := strings.CutPrefix(s, base)
		switch {
		case !ok:
		case rest == "":
			return true
		case !strings.HasPrefix(rest, ":"):
		case strings.HasSuffix(rest, "*") && strings.HasPrefix(subject, rest[1:len(rest)-1]):
			return true
		case rest[1:] == subject:
			return true
		}
	}
	return false
}

// transit authenticates a call of the encryption API (the admin token,
// or a Rampart API key checked like the gateway's API key authenticator:
// revoked, expired and address-bound keys are refused), decodes it,
// checks that the caller may do op for its subject, runs it and records
// it in the audit log (who, what, for whom; never the data).
func (a *dataKeysAPI) transit(op string, run func(r *http.Request, req TransitRequest) (TransitResult, error)) http.Handler {
	return a.authenticate(func(w http.ResponseWriter, r *http.Request, c caller) {
		var req TransitRequest
		if err := decode(r, &req); err != nil {
			badRequest(w, err)
			return
		}
		if req.Subject == "" || req.Field == "" {
			badRequest(w, errors.New("subject and field are required"))
			return
		}
		if len(req.Field) > keyring.MaxField-len(transitField("")) {
			badRequest(w, fmt.Errorf("field is longer than %d bytes", keyring.MaxField-len(transitField(""))))
			return
		}
		if !c.allows(op, req.Subject) {
			// Probing other subjects is worth an audit event.
			a.record.record("transit."+op, req.Subject, fmt.Sprintf("field %q by %s: refused: not in its scopes", req.Field, c.who))
			problem.Write(w, http.StatusForbidden, "admin.forbidden", "This API key may not "+op+" for this subject (scope transit:"+op+"[:SUBJECT]).", "", nil)
			return
		}
		res, err := run(r, req)
		a.record.record("transit."+op, req.Subject, fmt.Sprintf("field %q by %s: %s", req.Field, c.who, outcomeOf(err)))
		if err != nil {
			transitError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// outcomeOf says how a call ended: ok, refused (the request or the
// ciphertext was wrong) or failed (the keyring could not answer).
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, keyring.ErrBadName), errors.Is(err, keyring.ErrMalformed), errors.Is(err, keyring.ErrAuthentication),
		errors.Is(err, keyring.ErrWrongSubject), errors.Is(err, keyring.ErrKeyGone):
		return "refused"
	}
	return "failed"
}

// authenticate lets a request through with the admin token or a valid
// API key.
func (a *dataKeysAPI) authenticate(next func(w http.ResponseWriter, r *http.Request, c caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			unauthorized(w)
			return
		}
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], a.want[:]) == 1 {
			next(w, r, caller{who: "the admin token", admin: true})
			return
		}
		id, secret, err := apikey.Parse(tok)
		if err != nil || a.store == nil || a.hasher == nil {
			unauthorized(w)
			return
		}
		rec, err := a.store.APIKey(r.Context(), id)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			internal(w, err)
			return
		}
		if a.hasher.Check(rec, found, secret, peerIP(r), a.now()) != apikey.Valid {
			unauthorized(w)
			return
		}
		next(w, r, caller{who: "apikey:" + id, scopes: rec.Scopes})
	})
}

func peerIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

func unauthorized(w http.ResponseWriter) {
	problem.Write(w, http.StatusUnauthorized, "admin.unauthorized", "The admin token or API key is missing or wrong.", "",
		http.Header{"Www-Authenticate": {`Bearer realm="rampart-admin"`}})
}

// TransitRequest is an encrypt, decrypt or rewrap call, for one subject
// (required, and within the caller's scopes). Plaintext is base64
// (standard), so any bytes fit; Field (required) is the name bound into
// the ciphertext, such as "users.ssn", in a namespace of its own: a
// ciphertext the gateway made for a route's field does not decrypt here.
type TransitRequest struct {
	Subject    string `json:"subject"`
	Field      string `json:"field"`
	Plaintext  string `json:"plaintext,omitempty"`
	Ciphertext string `json:"ciphertext,omitempty"`
}

// TransitResult is the answer of the encryption API.
type TransitResult struct {
	Ciphertext string `json:"ciphertext,omitempty"`
	Plaintext  string `json:"plaintext,omitempty"`
	Subject    string `json:"subject,omitempty"`
	Version    int    `json:"version,omitempty"`
}

func (a *dataKeysAPI) encrypt(r *http.Request, req TransitRequest) (TransitResult, error) {
	pt, err := base64.StdEncoding.DecodeString(req.Plaintext)
	if err != nil {
		return TransitResult{}, fmt.Errorf("%w: plaintext must be standard base64", keyring.ErrBadName)
	}
	defer clear(pt)
	ct, err := a.ring.Encrypt(r.Context(), req.Subject, transitField(req.Field), pt)
	return TransitResult{Ciphertext: ct}, err
}

func (a *dataKeysAPI) decrypt(r *http.Request, req TransitRequest) (TransitResult, error) {
	pt, o, err := a.ring.Decrypt(r.Context(), req.Subject, transitField(req.Field), req.Ciphertext)
	if err != nil {
		return TransitResult{}, err
	}
	defer clear(pt)
	return TransitResult{Plaintext: base64.StdEncoding.EncodeToString(pt), Subject: o.Subject, Version: o.Version}, nil
}

func (a *dataKeysAPI) reencrypt(r *http.Request, req TransitRequest) (TransitResult, error) {
	ct, err := a.ring.Reencrypt(r.Context(), req.Subject, transitField(req.Field), req.Ciphertext)
	return TransitResult{Ciphertext: ct}, err
}

// transitError answers a failed encryption call: what cannot be
// decrypted or was sent wrong is 400, anything else 503 without details.
func transitError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, keyring.ErrKeyGone), errors.Is(err, keyring.ErrWrongSubject):
		// One answer for both, so that a caller scoped to one subject
		// cannot learn from other subjects' ciphertexts whether they
		// were shredded.
		problem.Write(w, http.StatusBadRequest, "transit.not_decryptable", "The ciphertext cannot be decrypted for this subject: it is another subject's, or its key was shredded.", "", nil)
	case errors.Is(err, keyring.ErrMalformed), errors.Is(err, keyring.ErrAuthentication):
		problem.Write(w, http.StatusBadRequest, "transit.bad_ciphertext", "The ciphertext cannot be decrypted: "+err.Error()+".", "", nil)
	case errors.Is(err, keyring.ErrBadName):
		problem.Write(w, http.StatusBadRequest, "transit.bad_request", err.Error(), "", nil)
	default:
		internal(w, err)
	}
}

// ListDataKeys lists data keys: one subject's, or a page of all of them
// (after: the previous page's Next).
func (c *Client) ListDataKeys(ctx context.Context, subject, after string, limit int) (KeysPage, error) {
	u := c.base.JoinPath("/v1/keys")
	q := url.Values{}
	if subject != "" {
		q.Set("subject", subject)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	u.RawQuery = q.Encode()
	var p KeysPage
	return p, c.send(ctx, http.MethodGet, u, nil, &p)
}

// RotateDataKey makes a new data key version for subject.
func (c *Client) RotateDataKey(ctx context.Context, subject string) (RotateResult, error) {
	var res RotateResult
	return res, c.do(ctx, http.MethodPost, "/v1/keys/rotate", SubjectRequest{Subject: subject}, &res)
}

// RewrapDataKeys rewraps every data key under the gateway's current KEK
// version.
func (c *Client) RewrapDataKeys(ctx context.Context) (keyring.RewrapResult, error) {
	var res keyring.RewrapResult
	return res, c.do(ctx, http.MethodPost, "/v1/keys/rewrap", struct{}{}, &res)
}

// ShredSubject destroys every data key of subject.
func (c *Client) ShredSubject(ctx context.Context, subject string) (ShredResult, error) {
	var res ShredResult
	return res, c.do(ctx, http.MethodPost, "/v1/keys/shred", SubjectRequest{Subject: subject}, &res)
}

// internal answers a failed keyring call: a bad name is the caller's
// mistake; anything else is the store's or the KEK's, and is not detailed.
func internal(w http.ResponseWriter, err error) {
	if errors.Is(err, keyring.ErrBadName) {
		badRequest(w, err)
		return
	}
	problem.Write(w, http.StatusServiceUnavailable, "admin.keys_unavailable", "The keyring cannot be used right now.", "", nil)
}
