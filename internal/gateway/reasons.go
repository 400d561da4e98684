package gateway

import (
	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/client"
	"github.com/rampart-gw/rampart/internal/engine"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/inputs"
	"github.com/rampart-gw/rampart/internal/limits"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/protect"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/route"
)

// Reasons returns every denial reason code a pipeline can refuse with, in
// the order a request meets their stages: the engine's and the shared
// ones first, then each stage's. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	var out []pipeline.ReasonInfo
	for _, r := range [][]pipeline.ReasonInfo{pipeline.Reasons(), engine.Reasons(), client.Reasons(), firewall.Reasons(),
		route.Reasons(), inputs.Reasons(), authn.Reasons(), authz.Reasons(), limits.Reasons(), protect.Reasons(), proxy.Reasons()} {
		out = append(out, r...)
	}
	return out
}
