// Package coordinator runs a query's life, one file per stage, in the order
// a search visits them:
//
//   - request.go: validate the request, apply the limits, set the deadline
//     (limits.go: query-string length, the memory estimate, the cap on the
//     bytes of shard replies);
//   - presearch.go: the global BM25 statistics of the query: for most
//     queries worked out from the shards' term tables the coordinator
//     holds (probe.go finds the query's terms, termstats.go the figures,
//     termtables.go keeps the tables), for the others presearched and
//     cached per query (statscache.go);
//   - scatter.go: one request per node over NATS, every shard at once, in
//     one fan-out (package fanout);
//   - attempts.go: failover and hedging between the copies of a shard, in
//     one event loop; copies.go is the wire under it;
//   - merge.go: the shard answers merged in Bleve's own sort order (rank);
//   - response.go: the shard account, and the one decision between a full
//     answer, a partial one and an error;
//   - profile.go and observe.go: where the time went (the profile), and
//     what a search leaves behind: metrics (metrics.go), the slow-query
//     log and the partial-answer log.
//
// admin.go answers the rest: a document by id, an index's and the
// cluster's state.
package coordinator

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/lograte"
	"github.com/shoal-search/shoal/rewrite"
	"github.com/shoal-search/shoal/tracing"
)

// Options configure a coordinator.
type Options struct {
	// DefaultTimeout bounds a search that names no timeout (default 10s).
	DefaultTimeout time.Duration
	// MaxTimeout is the longest timeout a request may ask for (default 60s).
	MaxTimeout time.Duration
	// MaxWindow is the largest from+size (default 10,000).
	MaxWindow int
	// StatsCacheTTL is how long global statistics are reused (default 60s;
	// negative disables the cache).
	StatsCacheTTL time.Duration
	// StatsCacheBytes bounds the memory of the statistics cache
	// (default DefaultStatsCacheBytes).
	StatsCacheBytes int64
	// TermSetBytes bounds the memory of the shards' term tables (and
	// their merges) kept for global statistics (default
	// DefaultTermSetBytes); a table evicted is sent again by its shard at
	// the next presearch. A field whose tables would take more than half
	// of it is presearched per query instead.
	TermSetBytes int64
	// HedgeAfter, when positive, fixes the hedge delay: a shard whose
	// copy has not answered after this long is asked of another copy.
	// Zero makes it adaptive: each node's recent p95 latency, at least
	// HedgeFloor.
	HedgeAfter time.Duration
	// HedgeFloor is the shortest adaptive hedge delay (default 2ms).
	HedgeFloor time.Duration
	// HedgeBudget caps hedges, in percent of the shard requests sent
	// over the last HedgeWindow (default 5; negative turns hedging off).
	HedgeBudget float64
	// HedgeWindow is the sliding window of the budget (default 10s).
	HedgeWindow time.Duration
	// QueryLimits bound a query's clauses and nesting (zero fields take
	// rewrite's defaults); the searchers bound its expansions.
	QueryLimits rewrite.Limits
	// Registerer receives the coordinator's metrics (metrics.go); nil
	// records none.
	Registerer prometheus.Registerer
	// TracerProvider makes the spans of each search (nil: none).
	TracerProvider trace.TracerProvider
	// Logger receives the slow-query and partial-answer logs (default
	// slog.Default()).
	Logger *slog.Logger
	// SlowQuery, when positive, logs every search slower than this, with
	// its profile's summary and its slowest shard.
	SlowQuery time.Duration
	// PartialLogEvery is the least time between two logs of a partial
	// answer; those in between are counted in the next (default 1s).
	PartialLogEvery time.Duration
	// MaxQueryString is the longest query string, in bytes (default
	// DefaultMaxQueryString).
	MaxQueryString int
	// MaxSearchMemory bounds a search's estimated memory, in bytes
	// (default DefaultMaxSearchMemory); see checkMemory.
	MaxSearchMemory int64
	// MaxAnswerBytes bounds the bytes of shard replies one search
	// assembles (default DefaultMaxAnswerBytes).
	MaxAnswerBytes int64
}

// Default memory bounds of the coordinator's caches.
const (
	DefaultStatsCacheBytes = 64 << 20
	DefaultTermSetBytes    = 128 << 20
)

func (o *Options) setDefaults() {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 10 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 60 * time.Second
	}
	if o.MaxWindow <= 0 {
		o.MaxWindow = 10000
	}
	if o.StatsCacheTTL == 0 {
		o.StatsCacheTTL = 60 * time.Second
	}
	if o.StatsCacheBytes <= 0 {
		o.StatsCacheBytes = DefaultStatsCacheBytes
	}
	if o.TermSetBytes <= 0 {
		o.TermSetBytes = DefaultTermSetBytes
	}
	o.QueryLimits = o.QueryLimits.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PartialLogEvery <= 0 {
		o.PartialLogEvery = time.Second
	}
	if o.MaxQueryString <= 0 {
		o.MaxQueryString = DefaultMaxQueryString
	}
	if o.MaxSearchMemory <= 0 {
		o.MaxSearchMemory = DefaultMaxSearchMemory
	}
	if o.MaxAnswerBytes <= 0 {
		o.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	if o.HedgeFloor <= 0 {
		o.HedgeFloor = DefaultHedgeFloor
	}
	if o.HedgeBudget == 0 {
		o.HedgeBudget = DefaultHedgeBudget
	}
	if o.HedgeWindow <= 0 {
		o.HedgeWindow = DefaultHedgeWindow
	}
}

// Coordinator answers searches over the shards of Shoal indexes.
type Coordinator struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	cat    *catalog.Catalog
	opts   Options
	cache  *statsCache
	sf     singleflight.Group
	tables *termTables
	probe  *termProbe // nil: every scoring query is presearched
	// streams are the index figures the memory estimate uses.
	streams streamStats
	sizes   *shardSizes // coverage.go

	// nodes are the latency estimates of the searcher nodes, budget the
	// hedges allowed (hedging.go).
	nodes  *nodeStats
	budget *hedgeBudget
	// ids names the requests that can be cancelled (copies.go).
	ids requestIDs
	// reconnects says when requests in flight were lost with the
	// connection (reconnect.go).
	reconnects *reconnects

	metrics *metrics // nil: none
	tracer  trace.Tracer
	log     *slog.Logger
	partial lograte.Limiter // of the partial-answer log

	// Counters for the hedging benchmark.
	requests atomic.Uint64
	hedges   atomic.Uint64
	cancels  atomic.Uint64
}

// New returns a coordinator that talks to shards over nc.
func New(nc *nats.Conn, cat *catalog.Catalog, opts Options) *Coordinator {
	opts.setDefaults()
	js, _ := jetstream.New(nc) // fails only on a bad option
	c := &Coordinator{nc: nc, js: js, cat: cat, opts: opts, cache: newStatsCache(opts.StatsCacheTTL, opts.StatsCacheBytes), tables: newTermTables(opts.TermSetBytes),
		sizes: newShardSizes(), nodes: newNodeStats(), budget: newHedgeBudget(max(opts.HedgeBudget, 0), opts.HedgeWindow), ids: newRequestIDs(),
		tracer: tracing.OrNoop(opts.TracerProvider).Tracer("github.com/shoal-search/shoal/coordinator"),
		log:    opts.Logger, partial: lograte.Limiter{Every: opts.PartialLogEvery}, reconnects: watchReconnects(nc)}
	c.metrics = newMetrics(opts.Registerer, c)
	var err error
	if c.probe, err = newTermProbe(); err != nil {
		c.log.Error("every scoring query will need a presearch round", "err", err)
	}
	return c
}

// Counters reports how many shard requests were sent, and how many of them
// were hedges.
func (c *Coordinator) Counters() (requests, hedges uint64) {
	return c.requests.Load(), c.hedges.Load()
}

// Cancels reports how many requests in flight the coordinator cancelled on
// their nodes, because another copy answered first or the search ended.
func (c *Coordinator) Cancels() uint64 { return c.cancels.Load() }

// Search runs req over every shard of index and merges the answers. It
// goes through the stages of a query in order, one file each. The
// request's deadline runs from req.Start and bounds every stage, parsing
// included; ctx ending (the client gone) ends them all.
func (c *Coordinator) Search(ctx context.Context, index string, req Request) (*Response, error) {
	ctx, span := c.tracer.Start(ctx, "search", trace.WithAttributes(attribute.String("shoal.index", index)))
	defer span.End()
	tl := newTimeline()
	start := req.Start
	if start.IsZero() {
		start = tl.start
	}
	timeout, err := c.timeout(req)
	if err != nil {
		c.observe(ctx, c.indexLabel(index), nil, tl, nil, nil, err) // observe.go
		return nil, err
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(timeout))
	defer cancel()
	q, err := c.prepareWithin(ctx, index, req) // request.go
	if err != nil {
		c.observe(ctx, c.indexLabel(index), nil, tl, nil, nil, err) // observe.go
		return nil, err
	}
	tl.mark(stagePrepare)
	if err := c.checkMemory(ctx, q); err != nil { // limits.go
		c.observe(ctx, q.def.Name, q, tl, nil, nil, err)
		return nil, err
	}
	stats, cacheKey, err := c.presearch(ctx, q) // presearch.go
	tl.mark(stagePresearch)
	if err != nil {
		c.observe(ctx, q.def.Name, q, tl, nil, nil, err)
		return nil, err
	}
	outcomes := c.scatter(ctx, q, stats) // scatter.go, attempts.go, copies.go
	tl.mark(stageScatter)
	c.observeSeqs(q.def, cacheKey, outcomes) // statscache.go
	_, mspan := c.tracer.Start(ctx, "merge")
	out := merge(q, outcomes)                                           // merge.go
	res, err := respond(q, out, outcomes, c.shardDocs(q.def), tl.start) // response.go, coverage.go
	mspan.End()
	tl.mark(stageMerge)
	c.observe(ctx, q.def.Name, q, tl, res, outcomes, err)
	return res, err
}
