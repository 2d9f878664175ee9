package searcher

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-search/shoal/lru"
)

// metrics are the node's Prometheus families; every one carries the
// node's name in the label node. Their names and labels are a contract
// (README "Operating Shoal"): keep them stable. A nil *metrics (no
// Options.Registerer) records nothing.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	searchDur   *prometheus.HistogramVec // index
	queueWait   prometheus.Histogram
	applyErrors *prometheus.CounterVec // index
	compactions *prometheus.CounterVec // index
	compactTime *prometheus.CounterVec // index
}

// latencyBuckets span 50 µs to 1.6 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.00005, 2, 16)

// newMetrics registers n's families with reg (nil: no metrics). Close
// unregisters them, so a node started again in the same process (tests,
// shoal dev) registers afresh.
func newMetrics(reg prometheus.Registerer, n *Node) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reg: prometheus.WrapRegistererWith(prometheus.Labels{"node": n.opts.Name}, reg),
		searchDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shoal_copy_search_duration_seconds",
			Help: "Time a shard copy took to search, by index.", Buckets: latencyBuckets}, []string{"index"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shoal_searcher_queue_wait_seconds",
			Help: "Time a request waited for a worker of the node's pool.", Buckets: latencyBuckets}),
		applyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoal_copy_apply_errors_total",
			Help: "Writes a copy could not apply, and failed batches, by index."}, []string{"index"}),
		compactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoal_copy_compactions_total",
			Help: "Compactions of idle shard copies into one segment (finished, stopped by a write or failed), by index."}, []string{"index"}),
		compactTime: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoal_copy_compaction_seconds_total",
			Help: "Time spent compacting idle shard copies, by index."}, []string{"index"}),
	}
	m.collectors = []prometheus.Collector{m.searchDur, m.queueWait, m.applyErrors, m.compactions, m.compactTime, copyCollector{n}, lru.NewCollector("shoal_searcher", n.CacheStats)}
	for i, c := range m.collectors {
		if err := m.reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				m.reg.Unregister(done)
			}
			return nil, errors.Join(errors.New("searcher: register metrics"), err)
		}
	}
	return m, nil
}

// unregister takes the node's families off the registry.
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

func (m *metrics) searched(index string, seconds float64) {
	if m != nil {
		m.searchDur.WithLabelValues(index).Observe(seconds)
	}
}

func (m *metrics) queued(seconds float64) {
	if m != nil {
		m.queueWait.Observe(seconds)
	}
}

// applyFailed counts n writes or batches of index a copy could not apply.
func (m *metrics) applyFailed(index string, n int) {
	if m != nil {
		m.applyErrors.WithLabelValues(index).Add(float64(n))
	}
}

// compacted counts a compaction of a copy of index that took seconds.
func (m *metrics) compacted(index string, seconds float64) {
	if m != nil {
		m.compactions.WithLabelValues(index).Inc()
		m.compactTime.WithLabelValues(index).Add(seconds)
	}
}

// copyCollector reports the state of each copy the node hosts at scrape
// time: documents, applied sequence, pending writes, caught up, segments.
type copyCollector struct{ n *Node }

var (
	copyLabels   = []string{"index", "shard"}
	copyDocs     = prometheus.NewDesc("shoal_copy_docs", "Documents in a shard copy.", copyLabels, nil)
	copyApplied  = prometheus.NewDesc("shoal_copy_applied_seq", "Last stream sequence a shard copy applied.", copyLabels, nil)
	copyPending  = prometheus.NewDesc("shoal_copy_pending_messages", "Writes in a shard's stream the copy has not applied yet.", copyLabels, nil)
	copyCaughtUp = prometheus.NewDesc("shoal_copy_caught_up", "1 once a shard copy has applied its whole stream and serves queries.", copyLabels, nil)
	copySegments = prometheus.NewDesc("shoal_copy_segments", "Segments in a shard copy's Bleve index.", copyLabels, nil)
)

func (c copyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{copyDocs, copyApplied, copyPending, copyCaughtUp, copySegments} {
		ch <- d
	}
}

func (c copyCollector) Collect(ch chan<- prometheus.Metric) {
	c.n.mu.Lock()
	copies := make([]*replica, 0, len(c.n.copies))
	for _, r := range c.n.copies {
		copies = append(copies, r)
	}
	c.n.mu.Unlock()
	for _, r := range copies {
		labels := []string{r.def.Name, strconv.Itoa(r.num)}
		st := r.status()
		caught := 0.0
		if st.CaughtUp {
			caught = 1
		}
		ch <- prometheus.MustNewConstMetric(copyDocs, prometheus.GaugeValue, float64(st.Docs), labels...)
		ch <- prometheus.MustNewConstMetric(copyApplied, prometheus.GaugeValue, float64(st.AppliedSeq), labels...)
		ch <- prometheus.MustNewConstMetric(copyPending, prometheus.GaugeValue, float64(st.Pending), labels...)
		ch <- prometheus.MustNewConstMetric(copyCaughtUp, prometheus.GaugeValue, caught, labels...)
		ch <- prometheus.MustNewConstMetric(copySegments, prometheus.GaugeValue, float64(r.shard.Segments()), labels...)
	}
}
