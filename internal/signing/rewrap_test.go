package signing

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	kr "github.com/rampart-gw/rampart/internal/keyring"
)

// TestRewrap: after rampart keys kek-add and a rewrap, every signing key
// is sealed by the new version, so the old one can leave the KEK source;
// the keys themselves, their kids and what they sign do not change.
func TestRewrap(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	opt := Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 1), Now: c.Now}
	m, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c.Add(59 * time.Minute) // a second key, also under version 1
	if err := m.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := st.SigningKeys(ctx, "identity", c.t)
	if err != nil || len(before) != 2 {
		t.Fatal(before, err)
	}

	both := testKEK(t, 1, 2)
	res, err := Rewrap(ctx, st, "identity", both, c.t)
	if err != nil || res != (RewrapResult{Rewrapped: 2}) {
		t.Fatalf("Rewrap = %+v, %v; want 2 rewrapped", res, err)
	}
	after, err := st.SigningKeys(ctx, "identity", c.t)
	if err != nil {
		t.Fatal(err)
	}
	only2, err := kr.ParseKEK([]byte("2:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))), "test")
	if err != nil {
		t.Fatal(err)
	}
	m2 := &Manager{opt: Options{Purpose: "identity", KEK: only2}}
	for i, k := range after {
		if v, _ := SealedVersion(k.PrivateKey); v != 2 {
			t.Errorf("key %s sealed by version %d after the rewrap, want 2", k.KID, v)
		}
		if k.KID != before[i].KID || k.PublicJWK != before[i].PublicJWK || !k.RetireAt.Equal(before[i].RetireAt) {
			t.Errorf("the rewrap changed more than the sealed bytes of %s", k.KID)
		}
		if _, err := m2.verifyRow(ctx, &k); err != nil {
			t.Errorf("key %s does not open with version 2 alone: %v", k.KID, err)
		}
	}

	// Again: nothing left to do.
	if res, err := Rewrap(ctx, st, "identity", both, c.t); err != nil || res != (RewrapResult{}) {
		t.Fatalf("second Rewrap = %+v, %v; want nothing", res, err)
	}
}

// TestRewrapLeavesUntrustedRows: a row that does not verify (a key written
// by someone without the KEK) is not resealed, which would launder it; it
// is counted and named.
func TestRewrapLeavesUntrustedRows(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m, err := New(ctx, st, Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 1), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	keys, err := st.SigningKeys(ctx, "oauth", c.t)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	// Another row's public half on this row's sealed key: it opens, but
	// is not the key it claims.
	forged := keys[0]
	forged.KID = "forged"
	forged.CreatedAt = c.t.Add(time.Second)
	if err := st.CreateSigningKey(ctx, forged); err != nil {
		t.Fatal(err)
	}
	res, err := Rewrap(ctx, st, "oauth", testKEK(t, 1, 2), c.t)
	if err == nil || !strings.Contains(err.Error(), "signing key forged") || res != (RewrapResult{Rewrapped: 1, Remaining: 1}) {
		t.Fatalf("Rewrap = %+v, %v; want 1 rewrapped, the forged row left and named", res, err)
	}
	after, _ := st.SigningKeys(ctx, "oauth", c.t)
	for _, k := range after {
		v, _ := SealedVersion(k.PrivateKey)
		if want := map[bool]int{true: 1, false: 2}[k.KID == "forged"]; v != want {
			t.Errorf("key %s sealed by version %d, want %d", k.KID, v, want)
		}
	}
}

// TestPeerRewrapKeepsSigning: another gateway rewraps to a KEK version
// this one has not reread yet. This gateway keeps signing with the same
// key and keeps publishing every key, instead of dropping the keys it can
// no longer open (which would make upstreams refuse its tokens).
func TestPeerRewrapKeepsSigning(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	kek := &swapKEK{}
	kek.set(testKEK(t, 1))
	m, err := New(ctx, st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: kek, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	signer, published := m.Current().KID, kids(t, m)

	if res, err := Rewrap(ctx, st, "identity", testKEK(t, 1, 2), c.t); err != nil || res.Rewrapped != 1 {
		t.Fatalf("the peer's Rewrap = %+v, %v", res, err)
	}
	c.Add(time.Minute)
	if err := m.refresh(ctx); err != nil {
		t.Fatalf("refresh after a peer's rewrap: %v", err)
	}
	if got := m.Current().KID; got != signer {
		t.Errorf("signs with %s after a peer's rewrap, want the same key %s", got, signer)
	}
	if got := kids(t, m); !slices.Equal(got, published) {
		t.Errorf("publishes %v after a peer's rewrap, want %v", got, published)
	}

	// Once this gateway rereads the KEK, the resealed row opens anew.
	kek.set(testKEK(t, 1, 2))
	c.Add(time.Minute)
	if err := m.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := st.SigningKeys(ctx, "identity", c.t)
	if o := m.opened[signer]; !bytes.Equal(o.sealed, rows[0].PrivateKey) {
		t.Error("the resealed row was not opened after the KEK reread")
	}
}

// hookKEK runs before once, at its first Wrap.
type hookKEK struct {
	KEK
	before func()
}

func (h *hookKEK) Wrap(ctx context.Context, v int, p, ad []byte) ([]byte, error) {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.KEK.Wrap(ctx, v, p, ad)
}

// TestConcurrentRewraps: a row another rewrap moved first is done, not a
// failure.
func TestConcurrentRewraps(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m, err := New(ctx, st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 1), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	both := testKEK(t, 1, 2)
	h := &hookKEK{KEK: both, before: func() {
		if _, err := Rewrap(ctx, st, "identity", both, c.t); err != nil {
			t.Error(err)
		}
	}}
	res, err := Rewrap(ctx, st, "identity", h, c.t)
	if err != nil || res.Remaining != 0 {
		t.Errorf("Rewrap racing another = %+v, %v; want no error and none remaining", res, err)
	}
}

// TestRewrapRecounts: a key that a gateway still on the old KEK version
// seals during the run is counted as remaining, so rampart keys rewrap
// does not report success while version 1 is still needed.
func TestRewrapRecounts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m, err := New(ctx, st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 1), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := &hookKEK{KEK: testKEK(t, 1, 2), before: func() {
		if _, _, err := m.create(ctx, c.t.Add(time.Second)); err != nil { // the lagging gateway rotates
			t.Error(err)
		}
	}}
	res, err := Rewrap(ctx, st, "identity", h, c.t)
	if err != nil || res != (RewrapResult{Rewrapped: 1, Remaining: 1}) {
		t.Errorf("Rewrap = %+v, %v; want 1 rewrapped and the lagging gateway's key remaining", res, err)
	}
}

// TestTamperedRowIsLogged: the fallback that keeps a verified key is taken
// only for a version newer than the loaded ones, and is logged each time;
// a row overwritten with another (older or unknown) version is untrusted
// and logged as such.
func TestTamperedRowIsLogged(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version uint32
		want    string
	}{
		{"newer version", 0x7ffffff0, "keeping the key verified before"},
		{"loaded version", 0, "cannot be decrypted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			c := &clock{t: time.Unix(1_800_000_000, 0)}
			var logs bytes.Buffer
			kek := &swapKEK{}
			kek.set(testKEK(t, 1, 2))
			m, err := New(ctx, st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: kek, Now: c.Now,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rows, _ := st.SigningKeys(ctx, "identity", c.t)
			v := tt.version
			if v == 0 {
				v = 1 // a version this gateway has loaded: the bytes must open
			}
			junk := binary.BigEndian.AppendUint32([]byte{formatKEK}, v)
			junk = append(junk, bytes.Repeat([]byte{0xAA}, 64)...)
			if ok, err := st.ResealSigningKey(ctx, rows[0].KID, rows[0].PrivateKey, junk); err != nil || !ok {
				t.Fatal(ok, err)
			}
			logs.Reset()
			c.Add(time.Minute)
			// A lone untrusted key fails the refresh, and the background
			// loop logs that error: both count as said.
			said := logs.String()
			if err := m.refresh(ctx); err != nil {
				said += err.Error()
			}
			said += logs.String()
			if !strings.Contains(said, rows[0].KID) || !strings.Contains(said, tt.want) {
				t.Errorf("tampered row of %s: said %q, want it named with %q", rows[0].KID, said, tt.want)
			}
		})
	}
}
