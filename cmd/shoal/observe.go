package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/shoal-search/shoal/tracing"
)

// traceFlags is --otlp-endpoint, of the commands that run Shoal roles.
type traceFlags struct {
	endpoint string
}

func (f *traceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.endpoint, "otlp-endpoint", "", "send OpenTelemetry spans over OTLP/HTTP to this collector (http://host:4318); "+
		"also on when OTEL_EXPORTER_OTLP_ENDPOINT is set; off: no tracing, at no cost")
}

// start returns the process's tracer provider for service: exporting if
// --otlp-endpoint or the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
// environment variable is set, a no-op otherwise.
func (f *traceFlags) start(ctx context.Context, service string) (*tracing.Provider, error) {
	export := f.endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	return tracing.Start(ctx, tracing.Options{Export: export, Endpoint: f.endpoint, Service: service})
}

// flush sends the spans still buffered, within a few seconds.
func flush(p *tracing.Provider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		log.Warn("flush spans", "err", err)
	}
}

// frontendLogFlags are --access-log and --slow-query, of the commands that
// run a coordinator.
type frontendLogFlags struct {
	access bool
	slow   time.Duration
}

func (f *frontendLogFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.access, "access-log", false, "log one line per HTTP request (method, path, status, bytes, duration, request_id) at info level")
	fs.DurationVar(&f.slow, "slow-query", 0, "log every search slower than this (e.g. 200ms) with its profile summary and slowest shard (0 = off)")
}

// serveMetrics serves reg at http://addr/metrics until ctx ends; it
// returns once the listener is open, or fails if it cannot be.
func serveMetrics(ctx context.Context, addr string, reg prometheus.Gatherer, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return "http://" + ln.Addr().String() + "/metrics", nil
}
