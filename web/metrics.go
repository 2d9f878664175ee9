package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Names of the limits the HTTP layer applies itself, as the metric
// shoal_limit_rejections_total labels them (the query limits are named by
// the *rewrite.LimitError that reports them).
const (
	LimitRate               = "rate"
	LimitConcurrentSearches = "max_concurrent_searches"
	LimitBody               = "max_body_bytes"
)

// metrics are the HTTP layer's: what its limits refused, and the searches
// admitted and waiting.
type metrics struct {
	rejections *prometheus.CounterVec
	errors     *prometheus.CounterVec
	inFlight   prometheus.Gauge
	queued     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		rejections: f.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_limit_rejections_total",
			Help: "Requests refused by a limit, by the limit's name (max_query_string, max_clauses, rate, max_concurrent_searches, ...).",
		}, []string{"limit"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_http_errors_total",
			Help: "Error answers of the HTTP API, by error type.",
		}, []string{"type"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_searches_in_flight",
			Help: "Searches running on this coordinator (at most --max-concurrent-searches).",
		}),
		queued: f.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_searches_queued",
			Help: "Searches waiting for a slot (at most --search-queue).",
		}),
	}
}

// answered counts an error answer.
func (m *metrics) answered(e *apiError) {
	m.errors.WithLabelValues(string(e.kind)).Inc()
	if e.limit != "" {
		m.rejections.WithLabelValues(e.limit).Inc()
	}
}
