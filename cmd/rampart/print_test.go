package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/cliout"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// TestPrintViews pins the text the commands print, byte for byte: the
// docs and the scripts of users read it.
func TestPrintViews(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	k := admin.NewKey{KeyInfo: admin.KeyInfo{ID: "k1", Subject: "bob", ExpiresAt: exp}, Key: "rpk_k1_secret"}
	tests := []struct {
		name  string
		print func(*bytes.Buffer) error
		want  string
	}{
		{"new key", func(b *bytes.Buffer) error { return printNewKey(b, cliout.Text, k) },
			"id:      k1\nsubject: bob\nexpires: 2030-01-02T03:04:05Z\n\nrpk_k1_secret\n\nStore it now: it cannot be shown again.\n"},
		{"keys", func(b *bytes.Buffer) error {
			return printKeys(b, cliout.Text, []admin.KeyInfo{{ID: "k1", Subject: "bob", Name: "ci\tdeploy", Roles: []string{"a", "b"}, Scopes: []string{"x", "y"}, Status: "active"}})
		}, "ID  SUBJECT  NAME       ROLES  SCOPES  STATUS  EXPIRES  LAST USED\nk1  bob      ci deploy  a,b    x y     active  -        -\n"},
		{"data keys", func(b *bytes.Buffer) error {
			return printDataKeys(b, cliout.Text, admin.KeysPage{Next: "bob/2"})
		}, "SUBJECT  VERSION  KEY ID  KEK  CREATED  USED\nmore: --after bob/2\n"},
		{"report", func(b *bytes.Buffer) error {
			return printReport(b, "d/audit", audit.Report{Origin: "o", Records: 9, Events: 5, Pruned: 1, Checkpoints: 2, Signed: 8, Unsigned: 1,
				Anchored: 8, AnchoredBy: []string{"store", "w1"}, Warnings: []string{"w"}})
		}, "log:         d/audit\norigin:      o\nrecords:     9 (5 events, 3 the log's own, 1 deleted by retention under a signed retention record)\n" +
			"checkpoints: 2 (store copies: 0, witnesses: 0)\nsigned:      8 records covered by a checked signature\n" +
			"unsigned:    1 records after the newest checked checkpoint\nrollback:    ruled out up to 8 records by store, w1\nWARN: w\n" +
			"OK: every record is chained and covered as stated; every checkpoint is signed, chained and matches\n"},
		{"explanation", func(b *bytes.Buffer) error {
			return printExplanation(b, "GET /x", &pipeline.Identity{Subject: "bob", Roles: []string{"r"}},
				gateway.Explanation{Path: "/x", Stage: "authz", Reason: "authz.denied", Message: "No."})
		}, "request:  GET /x\nas:       bob roles=[r] scopes=[] tenant=\"\"\npath:     /x\ndecision: DENY by authz: authz.denied (No.)\n"},
		{"summary", func(b *bytes.Buffer) error {
			return printSummary(b, cliout.Text, audit.Summary{Since: "t0", Requests: 3, Denied: 1, TopSubjects: []audit.Count{{Key: "bob", N: 3}},
				Admin: []audit.Event{{Time: "t1", Action: "keys.rotated", Subject: "bob", Detail: "version 2"}}})
		}, "since t0: 3 requests, 1 denied, 0 failed\n\ntop subjects:\n       3  bob\n\ndenials by reason:\n\n" +
			"sensitive data in responses (kind, action):\n\nalerts: 0\n\nadministrative actions: 1\n  t1  keys.rotated  bob  version 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.print(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestFormatFlag: -o is --format; create and rotate print the new key as
// JSON with -o json.
func TestFormatFlag(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"apikey", "create", "--data", dir, "--subject", "bob", "-o", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("create -o json: %d %s", code, errOut.String())
	}
	var k admin.NewKey
	if err := json.Unmarshal(out.Bytes(), &k); err != nil || k.Subject != "bob" || !strings.HasPrefix(k.Key, "rpk_") {
		t.Fatalf("create -o json: %v %s", err, out.String())
	}
	out.Reset()
	if code := run([]string{"apikey", "rotate", k.ID, "--data", dir, "--format", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("rotate --format json: %d %s", code, errOut.String())
	}
	var r admin.NewKey
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.ID != k.ID || r.Key == k.Key {
		t.Fatalf("rotate --format json: %v %s", err, out.String())
	}
	out.Reset()
	if code := run([]string{"apikey", "list", "--data", dir, "-o", "json"}, &out, &errOut); code != exitOK || !strings.HasPrefix(out.String(), "[") {
		t.Fatalf("list -o json: %d %s", code, out.String())
	}
	for _, args := range [][]string{
		{"apikey", "create", "--data", dir, "--subject", "bob", "-o", "yaml"},
		{"audit", "summary", "--data", dir, "-o", "xml"},
	} {
		errOut.Reset()
		if code := run(args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "--format must be text or json") {
			t.Errorf("%v: %d %s", args, code, errOut.String())
		}
	}
}
