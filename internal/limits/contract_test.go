package limits

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// backends returns the back ends the contract runs on: memory always,
// Redis when RAMPART_TEST_REDIS is set.
func backends(t *testing.T) map[string]Backend {
	m := map[string]Backend{"memory": NewMemory(1000, nil)}
	if c, prefix := testRedisOptional(t); c != nil {
		r := NewRedis(c, RedisOptions{Prefix: prefix, Timeout: 2 * time.Second})
		t.Cleanup(func() { _ = r.Close() })
		m["redis"] = r
	}
	return m
}

// TestBackendContract runs one sequence of record charges on every back
// end: they must answer alike, to the record.
func TestBackendContract(t *testing.T) {
	type step struct {
		mode      Mode
		cost      int64
		allowed   bool
		taken     int64
		remaining int64
	}
	steps := []step{
		{Peek, 0, true, 0, 10},
		{Exact, 4, true, 4, 6},
		{Exact, 7, false, 0, 6}, // all or nothing
		{UpTo, 7, false, 6, 0},  // as many as are left
		{Peek, 0, false, 0, 0},
		{Force, 3, false, 3, 0}, // delivered already: into debt
		{Exact, 1, false, 0, 0},
	}
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			// One record per hour, ten at most: nothing refills during the test.
			c := Check{Kind: Records, Key: "contract/" + name, Tag: "t", Interval: time.Hour, Tau: 10 * time.Hour}
			res := make([]Result, 1)
			for i, s := range steps {
				c.Mode, c.Cost = s.mode, s.cost
				ok, err := b.Take(context.Background(), []Check{c}, res)
				if err != nil {
					t.Fatal(err)
				}
				r := res[0]
				if ok != s.allowed || r.Allowed != s.allowed || r.Taken != s.taken || r.Remaining != s.remaining {
					t.Fatalf("step %d (mode %d cost %d): ok %v %+v, want allowed %v taken %d remaining %d",
						i, s.mode, s.cost, ok, r, s.allowed, s.taken, s.remaining)
				}
				if !r.Allowed && r.RetryAfter <= 0 {
					t.Fatalf("step %d: refused with no RetryAfter", i)
				}
			}
		})
	}
}

// TestRecordsPerSessionKey checks that the token's session id separates
// allowances, and that without one the identity's allowance is shared.
func TestRecordsPerSessionKey(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {records: {max: 3}}}
`, NewMemory(1000, nil), nil)
	resp := respStage{l}
	view := func(id *pipeline.Identity, n int) (int, string) {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.Identity, x.In.Method = &pipeline.Route{Name: "r0"}, id, "GET"
		if err := l.Stage().Request(context.Background(), x); err != nil {
			d, _ := pipeline.AsDenial(err)
			return d.Status, d.Reason
		}
		body := []byte("[")
		for i := range n {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, '1')
		}
		body = append(body, ']')
		x.Response = pipeline.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Buffered: true}
		if err := resp.Response(context.Background(), x); err != nil {
			d, _ := pipeline.AsDenial(err)
			return d.Status, d.Reason
		}
		return 200, ""
	}
	s1 := &pipeline.Identity{Subject: "alice", Session: "s1"}
	s2 := &pipeline.Identity{Subject: "alice", Session: "s2"}
	if st, reason := view(s1, 3); st != 200 {
		t.Fatal("session 1, three records:", st, reason)
	}
	if st, reason := view(s1, 1); st != 429 || reason != "limits.records_exceeded" {
		t.Fatalf("session 1 after its three: %d %s", st, reason)
	}
	if st, _ := view(s2, 3); st != 200 {
		t.Fatal("session 2 has its own allowance:", st)
	}
	noSession := &pipeline.Identity{Subject: "alice"}
	if st, _ := view(noSession, 2); st != 200 {
		t.Fatal("no session:", st)
	}
	if st, reason := view(noSession, 2); st != 429 || reason != "limits.records_exceeded" {
		t.Fatalf("no session, over: %d %s", st, reason)
	}
	if st, _ := view(noSession, 1); st != 200 {
		t.Fatal("no session: the last record left:", st)
	}
}

// TestRecordsRefuseRepeatedNames: a buffered body that names the records
// array twice (in any letter case) is refused as uncountable, not counted
// by its first copy: a client may read the other.
func TestRecordsRefuseRepeatedNames(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, public: true, limits: {records: {max: 3, path: $.items}}}
`, NewMemory(1000, nil), nil)
	for body, want := range map[string]string{
		`{"items":[1]}`:                           "",
		`{"items":[1],"items":[1,2,3,4,5]}`:       ReasonRecordsUncountable,
		`{"items":[1],"ITEMS":[1,2,3,4,5]}`:       ReasonRecordsUncountable,
		`{"items":[1],"x":{"items":1,"items":2}}`: "",
	} {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.In.Method = &pipeline.Route{Name: "r0"}, "GET"
		x.Response = pipeline.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), Buffered: true}
		got := ""
		if err := (respStage{l}).Response(context.Background(), x); err != nil {
			d, _ := pipeline.AsDenial(err)
			got = d.Reason
		}
		if got != want {
			t.Errorf("%s: refused %q, want %q", body, got, want)
		}
	}
}

// TestRecordsJSONIsJsonbodys: what counts as a JSON response on a records
// route is jsonbody.IsJSON's answer, the one every stage uses; any other
// success is refused as uncountable.
func TestRecordsJSONIsJsonbodys(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, public: true, limits: {records: {max: 100}}}
`, NewMemory(1000, nil), nil)
	for ct, countable := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "application/vnd.api+json": true,
		"text/x+json": false, "application/json; =": false, "text/plain": false, "": false,
	} {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.In.Method = &pipeline.Route{Name: "r0"}, "GET"
		x.Response = pipeline.Response{Status: 200, Header: http.Header{"Content-Type": {ct}}, Body: []byte(`[1]`), Buffered: true}
		err := (respStage{l}).Response(context.Background(), x)
		d, _ := pipeline.AsDenial(err)
		if refused := d != nil && d.Reason == ReasonRecordsUncountable; refused == countable || (err != nil && d == nil) {
			t.Errorf("Content-Type %q: %v, want countable %v", ct, err, countable)
		}
	}
}
