package config

import (
	"slices"
	"testing"
)

// TestRestartFields holds the list of settings a reload cannot apply, so
// that adding one (or forgetting to tag one that lifecycle.Open reads) is a
// deliberate change: lifecycle.Open reads exactly these sections at start.
func TestRestartFields(t *testing.T) {
	want := []string{"data_dir", "listeners", "admin", "server", "access_log", "store", "redis", "firewall.bans",
		"token_server", "identity_token", "limits.backend", "limits.max_keys", "audit", "protect.keys", "protect.redact_logs",
		"protect.encryption_api", "authz.max_scopes"}
	got := RestartFields()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("restart fields %v, want %v", got, want)
	}
}

func TestNeedsRestart(t *testing.T) {
	base := func() *Config {
		c := &Config{Version: 1, Routes: []Route{{Name: "a", Path: "/a"}}}
		SetDefaults(c)
		return c
	}
	a := base()
	if got := NeedsRestart(a, base()); got != nil {
		t.Fatalf("identical configs: %v", got)
	}
	b := base()
	b.Routes[0].Path = "/b"
	b.Limits.OnBackendError = "deny"
	if got := NeedsRestart(a, b); got != nil {
		t.Fatalf("routes and limits.on_backend_error reload: %v", got)
	}
	b.Store.Path = "/elsewhere.db"
	b.Limits.Backend = "redis"
	off := false
	b.Protect.RedactLogs = &off
	if got := NeedsRestart(a, b); !slices.Equal(got, []string{"store", "limits.backend", "protect.redact_logs"}) {
		t.Fatalf("changed restart fields %v", got)
	}
	KeepRestartFields(b, a)
	if got := NeedsRestart(a, b); got != nil || b.Routes[0].Path != "/b" || b.Limits.OnBackendError != "deny" {
		t.Fatalf("after KeepRestartFields: %v, routes %+v, on_backend_error %q", got, b.Routes, b.Limits.OnBackendError)
	}
}

// TestPepperNeedsRestart: the admin API and the token server hash API keys
// with the pepper they opened at start; a reload that moves it (another
// first apikey authenticator) keeps the old one until a restart.
func TestPepperNeedsRestart(t *testing.T) {
	mk := func(pepper string) *Config {
		c := &Config{Version: 1, Authn: Authn{APIKey: []APIKeyAuth{{Name: "keys", PepperFile: pepper}}}}
		SetDefaults(c)
		return c
	}
	a, b := mk("/data/pepper-a"), mk("/data/pepper-b")
	if got := NeedsRestart(a, b); !slices.Equal(got, []string{"authn.apikey[0].pepper_file"}) {
		t.Fatalf("NeedsRestart: %v", got)
	}
	shared := b.Authn.APIKey
	KeepRestartFields(b, a)
	if b.Authn.APIKey[0].PepperFile != "/data/pepper-a" || shared[0].PepperFile != "/data/pepper-b" || NeedsRestart(a, b) != nil {
		t.Fatalf("after KeepRestartFields: %q (the caller's list: %q), %v", b.Authn.APIKey[0].PepperFile, shared[0].PepperFile, NeedsRestart(a, b))
	}
}
