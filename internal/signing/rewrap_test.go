package signing

import (
	"bytes"
	"context"
	"encoding/base64"
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
