package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/inputs"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/route"
)

// Explanation is what the gateway would decide about a request from an
// identity, and why: the answer of `rampart authz explain`.
type Explanation struct {
	// Path is the normalized path the rules saw.
	Path string
	// Route is the matched route's name, "" when none matched.
	Route string
	// Params are the route parameters.
	Params []pipeline.Param
	// Allowed is the decision.
	Allowed bool
	// Stage and Reason name the refusal, when refused.
	Stage, Reason, Message string
	// Rule describes the authorization rule that applied.
	Rule string
}

// Explain runs routing and authorization, the stages that decide who may
// do what, for a request from id (authentication is taken as given). The
// body, if any, is checked against writable-field rules.
func Explain(cfg *config.Config, method, host, target string, id *pipeline.Identity, body string) (Explanation, error) {
	rs, err := route.New(cfg.Paths, route.Deps{Routes: cfg.Routes})
	if err != nil {
		return Explanation{}, err
	}
	as, err := authz.New(cfg.Authz, authz.Deps{Routes: cfg.Routes})
	if err != nil {
		return Explanation{}, err
	}
	if id != nil {
		// As the authn stage does: scopes beyond the roles' cap are gone.
		id = authn.NewScopeCap(cfg.Authz.MaxScopes).Apply(id)
	}
	x := &pipeline.Exchange{}
	x.Reset()
	raw, query, _ := strings.Cut(target, "?")
	x.In = pipeline.Request{Method: method, Host: host, RawPath: raw, RawQuery: query, Header: http.Header{}}
	x.Identity = id
	x.SetBodySource(staticBody(body))
	ex := Explanation{}
	if err := rs.Request(context.Background(), x); err == nil && id == nil && !cfg.Routes[x.Route.Index].Public {
		// The gateway would stop at authentication.
		return Explanation{Path: x.Path, Route: x.Route.Name, Params: x.Params, Stage: "authn",
			Reason: authn.ReasonMissingCredentials, Message: "Authentication is required.", Rule: as.Rule(x.Route.Index, method)}, nil
	}
	x.Reset()
	x.In = pipeline.Request{Method: method, Host: host, RawPath: raw, RawQuery: query, Header: http.Header{"Content-Type": {"application/json"}}}
	x.Identity = id
	x.SetBodySource(staticBody(body))
	for _, s := range []pipeline.RequestStage{rs, as} {
		if err := s.Request(context.Background(), x); err != nil {
			ex.Path, ex.Params, ex.Stage = x.Path, x.Params, s.Name()
			if x.Route != nil {
				ex.Route, ex.Rule = x.Route.Name, as.Rule(x.Route.Index, method)
			}
			if d, ok := pipeline.AsDenial(err); ok {
				ex.Reason, ex.Message = d.Reason, d.Message
				return ex, nil
			}
			return ex, err
		}
	}
	return Explanation{Path: x.Path, Route: x.Route.Name, Params: x.Params, Allowed: true, Rule: as.Rule(x.Route.Index, method)}, nil
}

type staticBody string

func (b staticBody) ReadBody() ([]byte, error) { return []byte(b), nil }

// Check compiles the parts of a config that need more than the config
// itself to validate (route conflicts, Cedar policy files, each route's
// WAF and contract), for `rampart config validate`; it starts nothing.
func Check(cfg *config.Config) error {
	if _, err := route.New(cfg.Paths, route.Deps{Routes: cfg.Routes}); err != nil {
		return err
	}
	if _, err := authz.New(cfg.Authz, authz.Deps{Routes: cfg.Routes}); err != nil {
		return err
	}
	// The inputs stage compiles each route's WAF (an exclusion of a rule
	// the CRS lacks is an error) and contract (a spec construct it
	// cannot enforce is an error).
	in, err := inputs.New(cfg.WAF, inputs.Deps{Routes: cfg.Routes})
	if err != nil {
		return err
	}
	return in.Close()
}
