package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestObserver(t *testing.T) {
	m := New("test")
	o := m.NewObserver([]string{"users", "admin"})
	x := &pipeline.Exchange{}
	x.Reset()
	x.Route = &pipeline.Route{Index: 1, Name: "admin"}
	x.Response.Status, x.Duration = 403, 2*time.Millisecond
	x.Denial = pipeline.Deny(403, "authz.missing_role", "No.")
	o.Observe(x)
	o.Observe(x)
	x.Reset()
	x.Response.Status = 404
	x.Denial = pipeline.Deny(404, "route.not_found", "No.")
	o.Observe(x)
	m.Reloaded(true)
	m.Reloaded(false)

	want := `
# HELP rampart_requests_total Requests served, by route, status code and refusal reason (empty when allowed).
# TYPE rampart_requests_total counter
rampart_requests_total{code="403",reason="authz.missing_role",route="admin"} 2
rampart_requests_total{code="404",reason="route.not_found",route=""} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "rampart_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.reloads); n != 2 {
		t.Errorf("reload series %d", n)
	}
	if statusText(200) != "200" || statusText(999) != "999" {
		t.Error("status labels")
	}
}
