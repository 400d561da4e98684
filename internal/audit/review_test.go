package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFilterAndSummarize(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, true)
	now := time.Now().UTC()
	old := now.Add(-48 * time.Hour).Format(time.RFC3339Nano)
	at := now.Format(time.RFC3339Nano)
	deny := []Decision{{Stage: "authn", Outcome: "deny", Reason: "authn.token_expired"}}
	events := []Event{
		{V: 1, Time: at, Subject: "ann", Route: "items", Status: 200, Decisions: []Decision{{Stage: "authn", Outcome: "allow"}},
			DLP: &DLP{Action: "mask", Findings: []DLPCount{{Kind: "card", Count: 2}}}},
		{V: 1, Time: at, Subject: "ann", Route: "items", Status: 401, Decisions: deny},
		{V: 1, Time: at, Subject: "bob", Route: "orders", Status: 502},
		{V: 1, Time: old, Subject: "bob", Route: "orders", Status: 200},
		{V: 1, Time: at, Kind: KindAlert, Action: "anomaly.auth_failures", ClientIP: "192.0.2.1"},
		{V: 1, Time: at, Kind: KindAdmin, Action: "apikey.create", Subject: "cid"},
		{V: 1, Time: at, Kind: KindAdmin, Action: "transit.decrypt", Detail: "key bob: ok"},
	}
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 7},
		{Filter{Subject: "ann"}, 2},
		{Filter{Decision: "deny"}, 1},
		{Filter{Decision: "error"}, 1},
		{Filter{Route: "orders", Since: now.Add(-time.Hour)}, 1},
	} {
		n := 0
		if err := Each(dir, func(_ int64, ev Event, _ []byte) error {
			if tc.f.Match(ev) {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("%+v matched %d events, want %d", tc.f, n, tc.want)
		}
	}
	s, err := Summarize(dir, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 3 || s.Denied != 1 || s.Failed != 1 || len(s.Alerts) != 1 || len(s.Admin) != 1 {
		t.Errorf("summary %+v", s)
	}
	want := map[string][]Count{"subjects": {{"ann", 2}, {"bob", 1}}, "denials": {{"authn.token_expired", 1}},
		"sensitive": {{"card mask", 2}}, "transit": {{"transit.decrypt ok", 1}}}
	got := map[string][]Count{"subjects": s.TopSubjects, "denials": s.Denials, "sensitive": s.Sensitive, "transit": s.Transit}
	for k, w := range want {
		if g, _ := json.Marshal(got[k]); string(g) != string(must(json.Marshal(w))) {
			t.Errorf("%s: %s, want %v", k, g, w)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
