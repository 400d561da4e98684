// Package metrics owns Rampart's Prometheus metrics: their names, labels and
// registry, and the observer that updates them for every exchange. Labels
// take only bounded values (route names from the config, status codes,
// stable reason codes), never request data.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Metrics holds the process's collectors. Create one per process.
type Metrics struct {
	// Registry is what the admin listener serves on /metrics.
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	backend  *prometheus.CounterVec
	dlp      *prometheus.CounterVec
}

// New registers Rampart's collectors and the Go runtime's.
func New(version string) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rampart_requests_total",
		Help: "Requests served, by route, status code and refusal reason (empty when allowed).",
	}, []string{"route", "code", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rampart_request_duration_seconds",
		Help:    "Time from receiving a request to the end of its response, by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rampart_config_reloads_total",
		Help: "Configuration reloads, by result (success or failure).",
	}, []string{"result"})
	m.backend = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rampart_limits_backend_errors_total",
		Help: "Limit decisions the counter back end (Redis) failed to make in time, by what was done instead (admitted or refused, per on_backend_error).",
	}, []string{"outcome"})
	m.dlp = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rampart_dlp_findings_total",
		Help: "Sensitive values data-loss prevention found in responses, by route, kind (card, ssn, jwt...) and action (report, mask, block).",
	}, []string{"route", "kind", "action"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "rampart_build_info",
		Help:        "Always 1; the version label says which Rampart runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.Registry.MustRegister(m.requests, m.duration, m.reloads, m.backend, m.dlp, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchAccessLogDrops exports the access log's dropped-record count.
func (m *Metrics) WatchAccessLogDrops(dropped func() int64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rampart_access_log_dropped_total",
		Help: "Access log records dropped because the output could not keep up.",
	}, func() float64 { return float64(dropped()) }))
}

// WatchAnomalyDrops exports how many anomaly actions (bans, alerts) were
// dropped because their queue was full.
func (m *Metrics) WatchAnomalyDrops(dropped func() int64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rampart_anomaly_actions_dropped_total",
		Help: "Anomaly bans and alerts dropped because their queue was full.",
	}, func() float64 { return float64(dropped()) }))
}

// LimitsBackendError counts a limit decision the back end failed to make.
func (m *Metrics) LimitsBackendError(admitted bool) {
	if admitted {
		m.backend.WithLabelValues("admitted").Inc()
	} else {
		m.backend.WithLabelValues("refused").Inc()
	}
}

// WatchAuditSinkDrops exports how many events an audit sink dropped.
func (m *Metrics) WatchAuditSinkDrops(sink string, dropped func() int64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "rampart_audit_sink_dropped_total",
		Help:        "Audit events a sink dropped because it could not keep up or kept failing (the local audit log keeps them all).",
		ConstLabels: prometheus.Labels{"sink": sink},
	}, func() float64 { return float64(dropped()) }))
}

// WatchBans exports the number of active dynamic bans.
func (m *Metrics) WatchBans(active func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rampart_firewall_bans",
		Help: "Dynamic bans in force on this gateway.",
	}, func() float64 { return float64(active()) }))
}

// Reloaded counts a config reload.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
	} else {
		m.reloads.WithLabelValues("failure").Inc()
	}
}

// statusCodes holds the label of every valid status code, so that labelling
// a request allocates nothing.
var statusCodes = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusText(code int) string {
	if code >= 0 && code < len(statusCodes) {
		return statusCodes[code]
	}
	return strconv.Itoa(code)
}

// Observer updates the request metrics. Build one per pipeline, since it
// resolves each route's series once.
type Observer struct {
	m        *Metrics
	routes   []string
	duration []prometheus.Observer
	noRoute  prometheus.Observer
}

// NewObserver returns an observer for a pipeline with the given route names.
func (m *Metrics) NewObserver(routes []string) *Observer {
	o := &Observer{m: m, routes: routes, noRoute: m.duration.WithLabelValues("")}
	for _, r := range routes {
		o.duration = append(o.duration, m.duration.WithLabelValues(r))
	}
	return o
}

// Observe counts one exchange.
func (o *Observer) Observe(x *pipeline.Exchange) {
	route, hist := "", o.noRoute
	if x.Route != nil && x.Route.Index < len(o.routes) {
		route, hist = o.routes[x.Route.Index], o.duration[x.Route.Index]
	}
	reason := ""
	if x.Denial != nil {
		reason = x.Denial.Reason
	}
	o.m.requests.WithLabelValues(route, statusText(x.Response.Status), reason).Inc()
	hist.Observe(x.Duration.Seconds())
	for _, f := range x.Response.Findings {
		o.m.dlp.WithLabelValues(route, f.Kind, x.Response.FindingsAction).Add(float64(f.Count))
	}
}
