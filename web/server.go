// Package web is Shoal's HTTP door: the JSON API under /v1, health and
// readiness probes, and the search page (plain HTML, CSS and JavaScript
// embedded in the binary). Handlers return a value or an error; one
// wrapper writes the answer, and one table maps error kinds to HTTP
// statuses.
//
// The door is guarded here too: scoped API keys (auth.go, keys.go), token
// buckets per key and per client address (ratelimit.go), a bound on the
// searches in flight (admission.go), JSON-only request bodies and the
// security headers of every answer (middleware.go).
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/tracing"
)

// Defaults of the options.
const (
	DefaultMaxBodyBytes          = 100 << 20
	DefaultMaxSearchBody         = 1 << 20
	DefaultMaxConcurrentSearches = 64
	DefaultSearchQueue           = 64
	DefaultSearchQueueWait       = time.Second
)

// Options configure the HTTP server.
type Options struct {
	// MaxBodyBytes bounds a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxSearchBody bounds a search's body (default DefaultMaxSearchBody).
	MaxSearchBody int64
	// APIKey is the master key: when set, every route but the probes and
	// the page needs a key (Authorization: Bearer KEY), and only the
	// master key manages keys.
	APIKey string
	// Keys are the scoped keys (nil: only the master key). Once any has
	// existed (even if all were revoked since), keys are required as with
	// APIKey.
	Keys *apikeys.Store
	// PublicSearch lets anyone search and get documents without a key.
	PublicSearch bool
	// RatePerAddress, when positive, is the requests per second a client
	// address may make without a key (or with a refused one) on a server
	// that needs keys. A key's own rate is its record's.
	RatePerAddress float64
	// MaxConcurrentSearches bounds the searches in flight; SearchQueue
	// more wait up to SearchQueueWait for one to end, and any more are
	// refused at once with 429 (defaults above).
	MaxConcurrentSearches int
	SearchQueue           int
	SearchQueueWait       time.Duration
	// DefaultShards is the shard count of an index created without one.
	DefaultShards int
	// Logger receives internal errors (default slog.Default()).
	Logger *slog.Logger
	// Metrics, when set, is served at /metrics in Prometheus's text
	// format (to the admin action): the registry of the whole process.
	Metrics prometheus.Gatherer
	// Registerer is where the HTTP layer registers its own metrics
	// (metrics.go): the process's registry. Nil: a registry of its own,
	// not served.
	Registerer prometheus.Registerer
	// TracerProvider makes each request's server span (nil: none). Every
	// request gets a trace id either way, answered as X-Request-Id.
	TracerProvider trace.TracerProvider
	// AccessLog, when set, receives one line per request.
	AccessLog *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxSearchBody <= 0 {
		o.MaxSearchBody = DefaultMaxSearchBody
	}
	if o.MaxConcurrentSearches <= 0 {
		o.MaxConcurrentSearches = DefaultMaxConcurrentSearches
	}
	if o.SearchQueue < 0 {
		o.SearchQueue = 0
	} else if o.SearchQueue == 0 {
		o.SearchQueue = DefaultSearchQueue
	}
	if o.SearchQueueWait <= 0 {
		o.SearchQueueWait = DefaultSearchQueueWait
	}
	if o.DefaultShards <= 0 {
		o.DefaultShards = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// Server serves the API and the page.
type Server struct {
	opts      Options
	tracer    trace.Tracer
	cat       *catalog.Catalog
	coord     *coordinator.Coordinator
	ix        *indexer.Indexer
	log       *slog.Logger
	metrics   *metrics
	buckets   buckets
	admission *admission
}

// New builds the HTTP handler.
func New(cat *catalog.Catalog, coord *coordinator.Coordinator, ix *indexer.Indexer, opts Options) http.Handler {
	return newServer(cat, coord, ix, opts).routes()
}

func newServer(cat *catalog.Catalog, coord *coordinator.Coordinator, ix *indexer.Indexer, opts Options) *Server {
	opts.setDefaults()
	m := newMetrics(opts.Registerer)
	return &Server{
		opts: opts, cat: cat, coord: coord, ix: ix, log: opts.Logger, metrics: m,
		tracer:    tracing.OrNoop(opts.TracerProvider).Tracer("github.com/shoal-search/shoal/web"),
		admission: newAdmission(opts.MaxConcurrentSearches, opts.SearchQueue, opts.SearchQueueWait, m),
	}
}
