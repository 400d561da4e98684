package pipeline

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
)

type stage struct {
	name string
	err  error
	ran  *[]string
}

func (s stage) Name() string { return s.name }
func (s stage) Request(context.Context, *Exchange) error {
	*s.ran = append(*s.ran, s.name)
	return s.err
}

func TestRequestStopsAtFirstOutcome(t *testing.T) {
	var ran []string
	boom := errors.New("boom")
	p := New([]RequestStage{stage{"a", nil, &ran}, nil, stage{"b", Deny(403, "b.no", "No."), &ran}, stage{"c", nil, &ran}}, nil, nil)
	x := &Exchange{}
	x.Reset()
	err := p.Request(context.Background(), x)
	if d, ok := AsDenial(err); !ok || d.Reason != "b.no" {
		t.Fatalf("err %v", err)
	}
	if len(ran) != 2 || len(x.Decisions) != 2 || x.Decisions[0].Outcome != Allowed || x.Decisions[1].Outcome != Denied || x.Decisions[1].Reason != "b.no" {
		t.Errorf("ran %v decisions %+v", ran, x.Decisions)
	}
	ran = nil
	x.Reset()
	err = New([]RequestStage{stage{"a", boom, &ran}}, nil, nil).Request(context.Background(), x)
	if !errors.Is(err, boom) || x.Decisions[0].Outcome != Failed || x.Decisions[0].Reason != "internal" {
		t.Errorf("failure: %v %+v", err, x.Decisions)
	}
	req, _ := New([]RequestStage{stage{"a", nil, &ran}}, nil, nil).StageNames()
	if len(req) != 1 || req[0] != "a" {
		t.Errorf("names %v", req)
	}
}

func TestResetKeepsNothingOfTheLastRequest(t *testing.T) {
	x := &Exchange{}
	x.Reset()
	x.RequestID, x.Path, x.Identity = "r1", "/a", &Identity{Subject: "bob"}
	x.Params = append(x.Params, Param{"id", "bob"})
	x.SetUpstreamHeader("X-A", "1")
	x.ReplaceRequestBody([]byte("secret"))
	x.Reset()
	if x.RequestID != "" || x.Path != "" || x.Identity != nil || len(x.Params) != 0 || len(x.UpstreamEdits) != 0 {
		t.Errorf("state survived Reset: %+v", x)
	}
	if b, ok := x.BufferedRequestBody(); ok || b != nil {
		t.Error("body survived Reset")
	}
	if x.Param("id") != "" {
		t.Error("param survived Reset")
	}
}

func TestSetSharedOnAnyHeader(t *testing.T) {
	h := http.Header{}
	vals := []string{"nosniff"}
	SetShared(h, "X-Content-Type-Options", vals)
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("not set")
	}
}

func TestDenialWrapsCause(t *testing.T) {
	cause := errors.New("db down")
	d := &Denial{Status: 503, Reason: "x", Message: "m", Cause: cause}
	if !errors.Is(d, cause) || d.Error() == "" {
		t.Error("cause lost")
	}
}

type countObserver struct{ n *int }

func (o countObserver) Observe(*Exchange) { *o.n++ }

type failingCommitter struct {
	countObserver
	err error
}

func (c failingCommitter) Commit(x *Exchange) error { c.Observe(x); return c.err }

// TestFinishReportsCommitFailure: every observer sees the exchange, in
// order, and Finish returns the first Committer's failure.
func TestFinishReportsCommitFailure(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	for _, tc := range []struct {
		name      string
		errs      []error // nil entry: a plain observer
		committer []bool
		want      error
	}{
		{"plain observers", []error{nil, nil}, []bool{false, false}, nil},
		{"committers that succeed", []error{nil, nil}, []bool{true, true}, nil},
		{"first failure wins, all run", []error{nil, first, second}, []bool{false, true, true}, first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			var obs []Observer
			for i, err := range tc.errs {
				if tc.committer[i] {
					obs = append(obs, failingCommitter{countObserver{&n}, err})
				} else {
					obs = append(obs, countObserver{&n})
				}
			}
			x := &Exchange{}
			x.Reset()
			if err := New(nil, nil, obs).Finish(x); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Finish = %v, want %v", err, tc.want)
			}
			if n != len(obs) {
				t.Errorf("%d of %d observers ran", n, len(obs))
			}
		})
	}
}

func TestFields(t *testing.T) {
	h := http.Header{"X-B": {"2", "3"}, "Accept": {"a"}, "X-A": {"1"}}
	var got []string
	for name, v := range Fields(h) {
		got = append(got, name+"="+v)
	}
	if want := []string{"Accept=a", "X-A=1", "X-B=2", "X-B=3"}; !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	n := 0
	for range Fields(h) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("Fields does not stop when asked")
	}
}
