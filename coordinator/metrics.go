package coordinator

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/protocol"
)

// metrics are the coordinator's Prometheus families. Their names and
// labels are a contract (README "Operating Shoal"): keep them stable. Labels never
// hold query text or ids; an index label holds only names the catalog
// knows. A nil *metrics (no Options.Registerer) records nothing and costs
// one nil check.
type metrics struct {
	searches   *prometheus.CounterVec   // index, outcome
	duration   *prometheus.HistogramVec // index
	phases     *prometheus.HistogramVec // phase
	shardReqs  *prometheus.CounterVec   // outcome
	statsCache *prometheus.CounterVec   // result
	inexact    *prometheus.CounterVec   // index

	// The children of fixed label values, resolved once: a search counts
	// one per shard, and a map lookup is cheaper than WithLabelValues.
	shardOutcomes map[string]prometheus.Counter
	phaseTimes    map[string]prometheus.Observer
	cacheHits     [2]prometheus.Counter // miss, hit
}

// Outcomes of a search, the outcome label of shoal_search_requests_total.
const (
	searchOK       = "ok"
	searchPartial  = "partial"
	searchError    = "error"
	searchRejected = "rejected"
)

// Outcomes of one shard's part of a search request sent to a node or a
// copy, the outcome label of shoal_shard_requests_total.
const (
	shardOK           = "ok"            // the first request answered
	shardFailover     = "failover"      // a request sent after a copy failed answered
	shardHedgeWon     = "hedge_won"     // a hedged request answered first
	shardHedgeLost    = "hedge_lost"    // another request for the shard answered first
	shardNoResponders = "no_responders" // no copy listened (NATS said so at once)
	shardTimeout      = "timeout"       // no answer in time
	shardError        = "error"         // the copy answered with an error
)

// Search phases, the phase label of shoal_search_phase_seconds.
const (
	phasePresearch = "presearch"
	phaseScatter   = "scatter"
	phaseMerge     = "merge"
)

// latencyBuckets span 0.5 ms to 16 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

// newMetrics registers the coordinator's families with reg; nil reg, nil
// metrics.
func newMetrics(reg prometheus.Registerer, c *Coordinator) *metrics {
	if reg == nil {
		return nil
	}
	f := promauto.With(reg)
	m := &metrics{
		searches: f.NewCounterVec(prometheus.CounterOpts{Name: "shoal_search_requests_total",
			Help: "Searches answered, by index and outcome (ok, partial, error, rejected)."}, []string{"index", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shoal_search_duration_seconds",
			Help: "Time to answer a search, by index.", Buckets: latencyBuckets}, []string{"index"}),
		phases: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shoal_search_phase_seconds",
			Help: "Time a search spent in each phase (presearch, scatter, merge).", Buckets: latencyBuckets}, []string{"phase"}),
		shardReqs: f.NewCounterVec(prometheus.CounterOpts{Name: "shoal_shard_requests_total",
			Help: "Each shard's part of the search requests sent to nodes and copies, by outcome."}, []string{"outcome"}),
		statsCache: f.NewCounterVec(prometheus.CounterOpts{Name: "shoal_stats_cache_requests_total",
			Help: "Lookups of global statistics in the presearch cache (hit or miss)."}, []string{"result"}),
		inexact: f.NewCounterVec(prometheus.CounterOpts{Name: "shoal_search_inexact_scores_total",
			Help: "Searches answered with approximate scores: the ranking statistics left out some shards, or counted some from before their latest writes."}, []string{"index"}),
	}
	// Fixed label values start at zero, so rates exist before the first event.
	m.shardOutcomes = map[string]prometheus.Counter{}
	for _, o := range []string{shardOK, shardFailover, shardHedgeWon, shardHedgeLost, shardNoResponders, shardTimeout, shardError} {
		m.shardOutcomes[o] = m.shardReqs.WithLabelValues(o)
	}
	m.phaseTimes = map[string]prometheus.Observer{}
	for _, p := range []string{phasePresearch, phaseScatter, phaseMerge} {
		m.phaseTimes[p] = m.phases.WithLabelValues(p)
	}
	m.cacheHits = [2]prometheus.Counter{m.statsCache.WithLabelValues(cacheMiss), m.statsCache.WithLabelValues(cacheHit)}
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shoal_nodes_live",
		Help: "Searcher nodes whose heartbeat is recent."}, func() float64 { return float64(len(c.cat.LiveNodes())) })
	reg.MustRegister(unservedCollector{c: c}, lru.NewCollector("shoal_coordinator", c.CacheStats))
	return m
}

// search counts a search of index that ended with outcome after seconds.
func (m *metrics) search(index, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.searches.WithLabelValues(index, outcome).Inc()
	if outcome != searchRejected {
		m.duration.WithLabelValues(index).Observe(seconds)
	}
}

// scores counts a search of index answered with st's statistics when
// they are not exact.
func (m *metrics) scores(index string, st *Statistics) {
	if m != nil && st != nil && !st.Exact {
		m.inexact.WithLabelValues(index).Inc()
	}
}

// phase records the time a search spent in phase.
func (m *metrics) phase(phase string, seconds float64) {
	if m != nil {
		m.phaseTimes[phase].Observe(seconds)
	}
}

// shardRequest counts one shard's part of a request by its outcome.
func (m *metrics) shardRequest(outcome string) {
	if m != nil {
		m.shardOutcomes[outcome].Inc()
	}
}

// cacheLookup counts a statistics cache hit or miss.
func (m *metrics) cacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHits[1].Inc()
	} else {
		m.cacheHits[0].Inc()
	}
}

// searchOutcome is the outcome label of a search that ended with res and
// err: a request refused before any shard was asked (malformed, unknown
// index) is rejected; missing shards without allow_partial, or any other
// failure, an error.
func searchOutcome(res *Response, err error) string {
	var re *RequestError
	switch {
	case err == nil && res.Partial:
		return searchPartial
	case err == nil:
		return searchOK
	case errors.As(err, &re), errors.Is(err, catalog.ErrIndexNotFound):
		return searchRejected
	default:
		return searchError
	}
}

// unservedCollector is shoal_shards_unserved{index}: the shards of each
// index without a live, caught-up copy, worked out at scrape time.
type unservedCollector struct{ c *Coordinator }

var unservedDesc = prometheus.NewDesc("shoal_shards_unserved",
	"Shards of an index that no live, caught-up copy serves.", []string{"index"}, nil)

func (u unservedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- unservedDesc }

func (u unservedCollector) Collect(ch chan<- prometheus.Metric) {
	unserved := u.c.Unserved()
	for _, def := range u.c.cat.Indexes() {
		ch <- prometheus.MustNewConstMetric(unservedDesc, prometheus.GaugeValue, float64(len(unserved[def.Name])), def.Name)
	}
}

// countUnanswered tells count the outcome of the requests that never
// answered: lost to another request for the same shard, or timed out.
func (r *attempts[V]) countUnanswered() {
	if r.count == nil {
		return
	}
	for _, a := range r.sent {
		if a.over {
			continue
		}
		for _, i := range a.shards {
			if o := r.out[i]; o.answered && o.err == nil {
				r.count(shardHedgeLost)
			} else {
				r.count(shardTimeout)
			}
		}
	}
}

// tally tells count of outcome, if anyone listens.
func (r *attempts[V]) tally(outcome string) {
	if r.count != nil {
		r.count(outcome)
	}
}

// requestOutcome is the outcome of a request of kind that ended for a
// shard with err.
func requestOutcome(kind requestKind, err error) string {
	var se *protocol.ShardError
	switch {
	case err == nil:
		return kind.won()
	case errors.Is(err, errAnsweredElsewhere):
		return shardHedgeLost
	case errors.Is(err, nats.ErrNoResponders):
		return shardNoResponders
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &se) && se.Code == protocol.CodeTimeout:
		return shardTimeout
	default:
		return shardError
	}
}
