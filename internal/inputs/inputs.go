// Package inputs is the pipeline's input-validation stage, in the slot the
// pipeline reserves for the WAF (after route, before authn): per route, the
// API's own OpenAPI contract (the positive model, package contract) and
// the OWASP Core Rule Set in Coraza (the negative model, package waf).
// The contract runs first, so the WAF only sees requests the API would
// take; a response stage checks responses against the contract and strips
// writeOnly properties, when the route asks for it.
//
// It owns the mapping of a route's waf and openapi blocks onto those two
// packages (one compiled WAF per distinct set of options, one spec load
// per file), the reading of bodies that they inspect, and the refusals:
// problem documents that name rule ids or contract rules, never a value
// the client sent. It owns no rule and no validator.
package inputs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/contract"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/waf"
)

// Name is the stage's name in logs, metrics and audit events.
const Name = "inputs"

// Deps are what the stage needs besides the waf section.
type Deps struct {
	// Routes are the config's routes; their waf and openapi blocks are
	// compiled.
	Routes []config.Route
	// Logger receives what building the WAF cost.
	Logger *slog.Logger
	// Context bounds loading the specs; nil means context.Background.
	Context context.Context
}

// Stage is the inputs stage: a request stage and a response stage. It is
// immutable after New and safe for concurrent use.
type Stage struct {
	routes []*routeInputs // by route index; nil where the route inspects nothing
	wafs   []*waf.WAF     // each distinct compiled WAF, to close
	stats  []waf.Stats
}

// routeInputs are one route's compiled defences.
type routeInputs struct {
	contract       *contract.Validator
	contractReport bool // openapi.request: report
	response       string
	waf            *waf.WAF
}

// New compiles every route's waf and openapi blocks: one WAF per distinct
// set of options, one load of each spec file. Errors name the route.
func New(section config.WAF, d Deps) (*Stage, error) {
	ctx := d.Context
	if ctx == nil {
		ctx = context.Background()
	}
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Stage{routes: make([]*routeInputs, len(d.Routes))}
	wafs := map[string]*waf.WAF{}
	specs := map[string]*openapi.Spec{}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	for i := range d.Routes {
		r := &d.Routes[i]
		p := "routes[" + strconv.Itoa(i) + "]"
		var ri routeInputs
		if w := r.WAF; w != nil && w.Enabled != nil && *w.Enabled {
			opts, err := wafOptions(section, w)
			if err != nil {
				return nil, fmt.Errorf("%s.waf: %w", p, err)
			}
			key := fmt.Sprintf("%#v", opts)
			ww, seen := wafs[key]
			if !seen {
				if ww, err = waf.New(opts); err != nil {
					return nil, fmt.Errorf("%s.waf: %w", p, err)
				}
				wafs[key] = ww
				s.wafs = append(s.wafs, ww)
				st := ww.Stats()
				s.stats = append(s.stats, st)
				logger.Info("waf compiled", "route", r.Name, "paranoia", opts.Paranoia, "rules", st.Rules,
					"compile_ms", st.Compile.Milliseconds(), "heap_mib", float64(st.HeapBytes)/(1<<20))
			}
			ri.waf = ww
		}
		if o := r.OpenAPI; o != nil {
			if strings.Contains(o.Spec, "://") {
				return nil, fmt.Errorf("%s.openapi.spec: %q: give a file; the gateway does not fetch specs", p, o.Spec)
			}
			spec, seen := specs[o.Spec]
			if !seen {
				var err error
				if spec, err = openapi.Load(ctx, o.Spec, openapi.Options{}); err != nil {
					return nil, fmt.Errorf("%s.openapi.spec: %w", p, err)
				}
				specs[o.Spec] = spec
			}
			v, err := contract.Compile(spec, contract.Options{Operation: o.Operation, Response: o.Response})
			if err != nil {
				return nil, fmt.Errorf("%s.openapi: %w", p, err)
			}
			ri.contract, ri.contractReport, ri.response = v, o.Request == "report", o.Response
		}
		if ri.waf != nil || ri.contract != nil {
			s.routes[i] = &ri
		}
	}
	ok = true
	return s, nil
}

// wafOptions merges the waf section and a route's block (whose scalars
// config.SetDefaults has filled) into the WAF's options.
func wafOptions(section config.WAF, w *config.RouteWAF) (waf.Options, error) {
	opts := waf.Options{
		Paranoia:         w.Paranoia,
		InboundThreshold: w.InboundThreshold,
		DetectOnly:       w.Mode == "detect",
		BodyLimit:        int64(w.BodyLimit),
	}
	for _, p := range append(append([]string(nil), section.Profiles...), w.Profiles...) {
		if !slices.Contains(opts.Profiles, p) {
			opts.Profiles = append(opts.Profiles, p)
		}
	}
	for j, e := range append(append([]config.WAFExclusion(nil), section.Exclude...), w.Exclude...) {
		ex := waf.Exclusion{Target: e.Target}
		for k, r := range e.Rules {
			rr, err := waf.ParseRuleRange(r)
			if err != nil {
				return opts, fmt.Errorf("exclude[%d].rules[%d]: %w", j, k, err)
			}
			ex.Rules = append(ex.Rules, rr)
		}
		opts.Exclusions = append(opts.Exclusions, ex)
	}
	return opts, nil
}

// Stats returns what each distinct compiled WAF cost, in build order.
func (s *Stage) Stats() []waf.Stats { return s.stats }

// Close releases the compiled WAFs.
func (s *Stage) Close() error {
	var errs []error
	for _, w := range s.wafs {
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}

// Name is the stage's name.
func (s *Stage) Name() string { return Name }

// Request checks the request against the route's contract, then has the
// WAF inspect it. A route with neither costs one slice lookup.
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) error {
	if x.Route == nil || x.Route.Index >= len(s.routes) {
		return nil
	}
	ri := s.routes[x.Route.Index]
	if ri == nil {
		return nil
	}
	if ri.contract != nil && ri.response != "off" {
		// The response is read whole and held to the contract: it must
		// come as it is (not compressed) and whole (not a range).
		x.SetUpstreamHeader("Accept-Encoding", "identity")
		x.DelUpstreamHeader("Range")
		x.DelUpstreamHeader("If-Range")
	}
	ct := x.In.Header.Get("Content-Type")
	hasBody := x.In.ContentLength != 0 || x.In.Header.Get("Transfer-Encoding") != ""
	// The WAF reads every body, whatever its type: the CRS inspects one
	// it has no parser for as URL-encoded (901340), and a body it never
	// saw would reach the upstream uninspected.
	wantBody := hasBody && (ri.waf != nil || (ri.contract != nil && ri.contract.WantsBody(x.In.Method, x.Path)))
	// A body of unknown length (chunked) may be empty, as some clients
	// send a GET: the contract, which refuses a body on an operation that
	// takes none, reads it (bounded) to know.
	unknown := hasBody && x.In.ContentLength < 0
	var body []byte
	if !wantBody && unknown && ri.contract != nil && !ri.contractReport {
		// Only to tell an empty body from one the contract refuses; in
		// report mode the body streams, as it would be recorded only.
		b, err := x.RequestBody()
		switch {
		case errors.Is(err, pipeline.ErrBodyTooLarge):
			// not empty: the contract refuses it
		case err != nil:
			return fmt.Errorf("reading the request body: %w", err)
		case len(b) == 0:
			hasBody = false
		}
	}
	if wantBody {
		if encoded(x.In.Header.Values("Content-Encoding")) {
			return pipeline.Deny(http.StatusUnsupportedMediaType, ReasonEncoded, "Send this request body without Content-Encoding.")
		}
		var err error
		body, err = x.RequestBody()
		if errors.Is(err, pipeline.ErrBodyTooLarge) {
			return pipeline.Deny(http.StatusRequestEntityTooLarge, pipeline.ReasonListenerBodyTooLarge, "The request body is too large.")
		}
		if err != nil {
			return fmt.Errorf("reading the request body: %w", err)
		}
	}
	if ri.contract != nil {
		if err := s.checkContract(ctx, x, ri, ct, body, hasBody); err != nil {
			return err
		}
	}
	if ri.waf != nil {
		return s.inspect(ctx, x, ri.waf, body, wantBody)
	}
	return nil
}

// encoded reports whether any Content-Encoding field, or any coding listed
// in one, is other than identity.
func encoded(fields []string) bool {
	for _, f := range fields {
		for c := range strings.SplitSeq(f, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

func (s *Stage) checkContract(ctx context.Context, x *pipeline.Exchange, ri *routeInputs, ct string, body []byte, hasBody bool) error {
	req := contract.Request{Method: x.In.Method, RawPath: x.Path, RawQuery: x.Query, Header: x.In.Header.Values,
		ContentType: ct, Body: body, HasBody: hasBody}
	err := ri.contract.ValidateRequest(ctx, &req)
	if err == nil {
		return nil
	}
	var viol *contract.Violation
	if !errors.As(err, &viol) {
		return fmt.Errorf("checking the request against the contract: %w", err)
	}
	errs := make([]pipeline.FieldError, len(viol.Problems))
	for i, p := range viol.Problems {
		errs[i] = pipeline.FieldError{In: p.In, Name: p.Name, Pointer: p.Pointer, Detail: p.Reason}
	}
	x.Inputs.Contract = errs
	if ri.contractReport {
		return nil
	}
	reason, msg := ReasonInvalid, "The request does not match the API's contract."
	switch viol.Status {
	case http.StatusNotFound:
		reason, msg = ReasonNoOperation, "The API documents no operation at this path."
	case http.StatusMethodNotAllowed:
		reason, msg = ReasonMethod, "The API documents no operation for this method at this path."
	case http.StatusUnsupportedMediaType:
		reason, msg = ReasonMediaType, "The API documents no request body of this media type here."
	}
	return &pipeline.Denial{Status: viol.Status, Reason: reason, Message: msg, Errors: errs}
}

func (s *Stage) inspect(ctx context.Context, x *pipeline.Exchange, w *waf.WAF, body []byte, hasBody bool) error {
	req := waf.Request{Method: x.In.Method, Host: x.In.Host, RawPath: x.In.RawPath, RawQuery: x.In.RawQuery,
		Headers: pipeline.Fields(x.In.Header), ClientIP: x.ClientIP, Body: body, HasBody: hasBody}
	if x.In.Peer.IsValid() {
		req.ClientPort = int(x.In.Peer.Port())
	}
	v, err := w.Inspect(ctx, &req)
	if err != nil {
		return fmt.Errorf("waf: %w", err)
	}
	x.Inputs.WAFRules, x.Inputs.WAFScore = v.Rules, v.Score
	switch {
	case !v.Blocked:
		return nil
	case v.BodyLimitExceeded:
		return pipeline.Deny(http.StatusRequestEntityTooLarge, ReasonWAFBodyTooLarge, "The request body is larger than this route inspects.")
	case v.BadRequest:
		return pipeline.Deny(http.StatusBadRequest, ReasonWAFBadRequest, "The request could not be inspected: its body or URI does not parse.")
	}
	return pipeline.Deny(http.StatusForbidden, ReasonWAFBlocked, "The request was refused by the web application firewall.")
}

// WantsResponseBody reports whether x's route checks responses against its
// contract (openapi.response report or block).
func (s *Stage) WantsResponseBody(x *pipeline.Exchange) bool {
	ri := s.route(x)
	return ri != nil && ri.contract != nil && ri.response != "off"
}

// Response checks the upstream's response against the route's contract
// and strips writeOnly properties from its JSON body.
func (s *Stage) Response(ctx context.Context, x *pipeline.Exchange) error {
	ri := s.route(x)
	if ri == nil || ri.contract == nil || ri.response == "off" || !x.Response.Buffered || x.Denial != nil {
		return nil
	}
	if encoded(x.Response.Header.Values("Content-Encoding")) {
		// Asked for identity, the upstream compressed anyway: the body
		// can be neither checked nor stripped of writeOnly properties,
		// so it does not leave, in report mode either.
		x.Inputs.Contract = append(x.Inputs.Contract, pipeline.FieldError{In: "response", Name: "Content-Encoding", Detail: "encoded: cannot be checked"})
		return pipeline.Deny(http.StatusBadGateway, ReasonResponseInvalid, "The upstream's response does not match the API's contract.")
	}
	req := contract.Request{Method: x.In.Method, RawPath: x.Path, RawQuery: x.Query, Header: x.In.Header.Values}
	body, err := ri.contract.ValidateResponse(ctx, &req, x.Response.Status, x.Response.Header.Values, x.Response.Body)
	x.Response.Body = body
	if err == nil {
		return nil
	}
	var viol *contract.Violation
	if !errors.As(err, &viol) {
		return fmt.Errorf("checking the response against the contract: %w", err)
	}
	for _, p := range viol.Problems {
		x.Inputs.Contract = append(x.Inputs.Contract, pipeline.FieldError{In: p.In, Name: p.Name, Pointer: p.Pointer, Detail: p.Reason})
	}
	if ri.response != "block" {
		return nil
	}
	return pipeline.Deny(http.StatusBadGateway, ReasonResponseInvalid, "The upstream's response does not match the API's contract.")
}

func (s *Stage) route(x *pipeline.Exchange) *routeInputs {
	if x.Route == nil || x.Route.Index >= len(s.routes) {
		return nil
	}
	return s.routes[x.Route.Index]
}
