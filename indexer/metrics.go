package indexer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the indexer's Prometheus families. Their names and labels
// are a contract (README "Operating Shoal"). A nil *metrics (no
// Options.Registerer) records nothing.
type metrics struct {
	docs     *prometheus.CounterVec // index, op
	duration prometheus.Histogram
}

// Ops of shoal_ingest_documents_total.
const (
	opIndex    = "index"
	opDelete   = "delete"
	opRejected = "rejected"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	f := promauto.With(reg)
	return &metrics{
		docs: f.NewCounterVec(prometheus.CounterOpts{Name: "shoal_ingest_documents_total",
			Help: "Documents written, by index and op: index and delete (stored by JetStream), rejected (not written)."}, []string{"index", "op"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "shoal_ingest_duration_seconds",
			Help: "Time to write one request's documents until JetStream stored them.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
	}
}

// written counts the documents of one write of index.
func (m *metrics) written(index string, res *Result, seconds float64) {
	if m == nil {
		return
	}
	m.docs.WithLabelValues(index, opIndex).Add(float64(res.Indexed))
	m.docs.WithLabelValues(index, opDelete).Add(float64(res.Deleted))
	m.docs.WithLabelValues(index, opRejected).Add(float64(res.Failed))
	m.duration.Observe(seconds)
}

// rejected counts n documents of index refused before they were written.
func (m *metrics) rejected(index string, n int) {
	if m != nil && n > 0 {
		m.docs.WithLabelValues(index, opRejected).Add(float64(n))
	}
}
