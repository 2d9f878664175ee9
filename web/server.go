// Package web is Shoal's HTTP door: the JSON API under /v1, health and
// readiness probes, and the search page (plain HTML, CSS and JavaScript
// embedded in the binary). Handlers return a value or an error; one
// wrapper writes the answer, and one table maps error kinds to HTTP
// statuses.
package web

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/tracing"
)

// Options configure the HTTP server.
type Options struct {
	// MaxBodyBytes bounds a request body (default 100 MiB).
	MaxBodyBytes int64
	// APIKey, when set, is required (Authorization: Bearer KEY) for every
	// request that writes or administers.
	APIKey string
	// DefaultShards is the shard count of an index created without one.
	DefaultShards int
	// Logger receives internal errors (default slog.Default()).
	Logger *slog.Logger
	// Metrics, when set, is served at /metrics in Prometheus's text
	// format: the registry of the whole process.
	Metrics prometheus.Gatherer
	// TracerProvider makes each request's server span (nil: none). Every
	// request gets a trace id either way, answered as X-Request-Id.
	TracerProvider trace.TracerProvider
	// AccessLog, when set, receives one line per request.
	AccessLog *slog.Logger
}

// Server serves the API and the page.
type Server struct {
	opts   Options
	tracer trace.Tracer
	cat    *catalog.Catalog
	coord  *coordinator.Coordinator
	ix     *indexer.Indexer
	log    *slog.Logger
}

// New builds the HTTP handler.
func New(cat *catalog.Catalog, coord *coordinator.Coordinator, ix *indexer.Indexer, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 100 << 20
	}
	if opts.DefaultShards <= 0 {
		opts.DefaultShards = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, cat: cat, coord: coord, ix: ix, log: opts.Logger,
		tracer: tracing.OrNoop(opts.TracerProvider).Tracer("github.com/shoal-search/shoal/web")}
	return s.routes()
}
