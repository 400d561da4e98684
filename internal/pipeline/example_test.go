package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// requireHeader is a request stage: it refuses requests without a header.
type requireHeader struct{ name string }

func (s requireHeader) Name() string { return "require-" + s.name }

func (s requireHeader) Request(_ context.Context, x *pipeline.Exchange) error {
	if x.In.Header.Get(s.name) == "" {
		return pipeline.Deny(http.StatusBadRequest, "example.header_missing", "The "+s.name+" header is required.")
	}
	return nil
}

// tagUpstream queues a header for the upstream request; it never writes a
// response.
type tagUpstream struct{}

func (tagUpstream) Name() string { return "tag" }

func (tagUpstream) Request(_ context.Context, x *pipeline.Exchange) error {
	x.UpstreamEdits = append(x.UpstreamEdits, pipeline.HeaderEdit{Name: "X-Checked", Value: "yes"})
	return nil
}

// Stages run in the order given; the first refusal ends the request, and
// each stage's verdict is recorded for the access log and the audit event.
func ExamplePipeline_Request() {
	p := pipeline.New([]pipeline.RequestStage{requireHeader{"X-Tenant"}, tagUpstream{}}, nil, nil)
	for _, h := range []http.Header{{"X-Tenant": {"acme"}}, {}} {
		x := &pipeline.Exchange{In: pipeline.Request{Method: "GET", RawPath: "/orders", Header: h}}
		err := p.Request(context.Background(), x)
		if d, ok := pipeline.AsDenial(err); ok {
			fmt.Println("denied:", d.Status, d.Reason)
		} else {
			fmt.Println("allowed, upstream edits:", len(x.UpstreamEdits))
		}
		for _, dec := range x.Decisions {
			fmt.Printf("  %s: %v\n", dec.Stage, strings.TrimSpace(dec.Outcome.String()+" "+dec.Reason))
		}
	}
	// Output:
	// allowed, upstream edits: 1
	//   require-X-Tenant: allow
	//   tag: allow
	// denied: 400 example.header_missing
	//   require-X-Tenant: deny example.header_missing
}
