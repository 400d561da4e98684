package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/problem"
	"github.com/rampart-gw/rampart/internal/store"
)

// maxRequestBytes bounds a management API request body.
const maxRequestBytes = 64 << 10

// LocalKeys manages API keys directly in a store: the admin API serves it,
// and the CLI uses it on a stopped gateway's data directory. Its methods
// match Client's, so the CLI does the same thing either way. It is safe for
// concurrent use.
type LocalKeys struct {
	Store  *store.Store
	Hasher *apikey.Hasher
	// MaxScopes is authz.max_scopes: a key may ask only for scopes its
	// roles allow. Nil allows any.
	MaxScopes map[string][]string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (k *LocalKeys) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// ErrNoSuchKey is returned for an unknown (or, on rotation, revoked) key.
var ErrNoSuchKey = errors.New("no such active api key")

// CreateKey creates a key and returns it with its secret, shown once.
func (k *LocalKeys) CreateKey(ctx context.Context, r CreateKeyRequest) (NewKey, error) {
	var ttl time.Duration
	if r.ExpiresIn != "" {
		d, err := time.ParseDuration(r.ExpiresIn)
		if err != nil || d <= 0 {
			return NewKey{}, inputError(`expires_in must be a positive duration such as "720h"`)
		}
		ttl = d
	}
	if len(k.MaxScopes) > 0 {
		for _, sc := range r.Scopes {
			if !roleAllows(k.MaxScopes, r.Roles, sc) {
				return NewKey{}, inputError(fmt.Sprintf("scope %q is more than the key's roles allow (authz.max_scopes)", sc))
			}
		}
	}
	now := k.now()
	key, rec, err := apikey.Create(ctx, k.Store, k.Hasher, apikey.Spec{Name: r.Name, Subject: r.Subject,
		Roles: r.Roles, Scopes: r.Scopes, CIDRs: r.CIDRs, TTL: ttl}, now)
	var invalid *apikey.SpecError
	if errors.As(err, &invalid) {
		return NewKey{}, inputError(invalid.Error())
	}
	if err != nil {
		return NewKey{}, err // the store: 503, its text never sent
	}
	return NewKey{KeyInfo: info(rec, now), Key: key}, nil
}

// roleAllows reports whether any of roles may hold scope.
func roleAllows(maxScopes map[string][]string, roles []string, scope string) bool {
	for _, r := range roles {
		if slices.Contains(maxScopes[r], scope) {
			return true
		}
	}
	return false
}

// ListKeys lists every key, without secrets.
func (k *LocalKeys) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := k.Store.ListAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	out := make([]KeyInfo, 0, len(keys))
	for _, key := range keys {
		out = append(out, info(key, now))
	}
	return out, nil
}

// RevokeKey revokes a key at once.
func (k *LocalKeys) RevokeKey(ctx context.Context, id string) (KeyInfo, error) {
	if err := k.Store.RevokeAPIKey(ctx, id, k.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return KeyInfo{}, ErrNoSuchKey
		}
		return KeyInfo{}, err
	}
	rec, err := k.Store.APIKey(ctx, id)
	if err != nil {
		return KeyInfo{}, err
	}
	return info(rec, k.now()), nil
}

// RotateKey gives a key a new secret; the old one works for grace.
func (k *LocalKeys) RotateKey(ctx context.Context, id string, grace time.Duration) (NewKey, error) {
	if grace < 0 || grace > apikey.MaxGrace {
		return NewKey{}, inputError("grace must be from 0 to 720h")
	}
	now := k.now()
	key, err := apikey.Rotate(ctx, k.Store, k.Hasher, id, grace, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NewKey{}, ErrNoSuchKey
		}
		return NewKey{}, err
	}
	rec, err := k.Store.APIKey(ctx, id)
	if err != nil {
		return NewKey{}, err
	}
	return NewKey{KeyInfo: info(rec, now), Key: key}, nil
}

// inputError is a caller mistake, answered with 400.
type inputError string

func (e inputError) Error() string { return string(e) }

// keysAPI serves LocalKeys over HTTP under /v1/apikeys.
type keysAPI struct {
	keys   *LocalKeys
	record Recorder
}

func (a *keysAPI) fail(w http.ResponseWriter, err error) {
	var in inputError
	switch {
	case errors.As(err, &in):
		problem.Write(w, http.StatusBadRequest, "admin.bad_request", in.Error(), "", nil)
	case errors.Is(err, ErrNoSuchKey):
		problem.Write(w, http.StatusNotFound, "admin.not_found", "No such active API key.", "", nil)
	default:
		problem.Write(w, http.StatusServiceUnavailable, "admin.store_unavailable", "The store cannot be used right now.", "", nil)
	}
}

func (a *keysAPI) create(w http.ResponseWriter, r *http.Request) {
	var req CreateKeyRequest
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	k, err := a.keys.CreateKey(r.Context(), req)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.record.record("apikey.create", k.Subject, "key "+k.ID)
	writeJSON(w, http.StatusCreated, k)
}

func (a *keysAPI) list(w http.ResponseWriter, r *http.Request) {
	ks, err := a.keys.ListKeys(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ks)
}

func (a *keysAPI) revoke(w http.ResponseWriter, r *http.Request) {
	k, err := a.keys.RevokeKey(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	a.record.record("apikey.revoke", k.Subject, "key "+k.ID)
	writeJSON(w, http.StatusOK, k)
}

func (a *keysAPI) rotate(w http.ResponseWriter, r *http.Request) {
	var req RotateKeyRequest
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	grace := 24 * time.Hour
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil {
			badRequest(w, errors.New(`grace must be a duration such as "24h"`))
			return
		}
		grace = d
	}
	k, err := a.keys.RotateKey(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.record.record("apikey.rotate", k.Subject, "key "+k.ID+", grace "+grace.String())
	writeJSON(w, http.StatusOK, k)
}

// CreateKeyRequest is the body of POST /v1/apikeys.
type CreateKeyRequest struct {
	Subject string   `json:"subject"`
	Name    string   `json:"name,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
	CIDRs   []string `json:"cidrs,omitempty"`
	// ExpiresIn is a Go duration such as "720h"; empty for no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// KeyInfo describes a key without its secret.
type KeyInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Subject    string    `json:"subject"`
	Roles      []string  `json:"roles"`
	Scopes     []string  `json:"scopes"`
	CIDRs      []string  `json:"cidrs"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// NewKey is the answer to a creation or rotation: the key, shown once.
type NewKey struct {
	KeyInfo
	Key string `json:"key"`
}

// RotateKeyRequest is the body of POST /v1/apikeys/{id}/rotate.
type RotateKeyRequest struct {
	// Grace is how long the old secret keeps working, a Go duration.
	Grace string `json:"grace,omitempty"`
}

func info(k store.APIKey, now time.Time) KeyInfo {
	status := "active"
	switch {
	case !k.RevokedAt.IsZero():
		status = "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		status = "expired"
	case len(k.PrevHash) > 0 && now.Before(k.PrevValidUntil):
		status = "rotating"
	}
	return KeyInfo{ID: k.ID, Name: k.Name, Subject: k.Subject, Roles: nonNil(k.Roles), Scopes: nonNil(k.Scopes), CIDRs: nonNil(k.CIDRs),
		Status: status, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// jsonOnly refuses state-changing requests that are not application/json:
// a browser cannot send that cross-origin without a CORS preflight, which
// this API never grants (CSRF).
func jsonOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			problem.Write(w, http.StatusUnsupportedMediaType, "admin.content_type", "Send application/json.", "", nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		next.ServeHTTP(w, r)
	})
}

func decode(r *http.Request, v any) error {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("the body is not the expected JSON object: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, err error) {
	problem.Write(w, http.StatusBadRequest, "admin.bad_request", err.Error(), "", nil)
}
