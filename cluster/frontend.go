// Package cluster assembles Shoal's roles into running processes: the
// frontend (catalog, placement, coordinator, indexer and HTTP server on one
// NATS connection) that `shoal coordinator` runs, and the all-in-one
// Cluster (embedded broker, searcher nodes and a frontend in one process)
// that `shoal dev` and the tests run.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/web"
)

// FrontendOptions configure a frontend.
type FrontendOptions struct {
	// HTTPAddr is where the API listens (port 0 picks one).
	HTTPAddr string
	// NodeTimeout is how long a searcher may be silent before it counts as
	// dead; HealAfter is how long before its copies move elsewhere
	// (0: never move).
	NodeTimeout time.Duration
	HealAfter   time.Duration
	// StreamReplicas and MetaReplicas are 3 on a three-broker cluster.
	StreamReplicas int
	MetaReplicas   int
	Coordinator    coordinator.Options
	Indexer        indexer.Options
	Web            web.Options
	Logger         *slog.Logger
	// Metrics is the process's registry (NewRegistry): the coordinator
	// and the indexer register with it and /metrics serves it. Nil: no
	// metrics at all (what the benchmark compares with).
	Metrics *prometheus.Registry
	// TracerProvider makes the spans of every request (nil: none).
	TracerProvider trace.TracerProvider
}

// Frontend is a running coordinator process: it serves the HTTP API and
// keeps shards placed.
type Frontend struct {
	Catalog     *catalog.Catalog
	Coordinator *coordinator.Coordinator
	Indexer     *indexer.Indexer

	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartFrontend starts a frontend on nc.
func StartFrontend(ctx context.Context, nc *nats.Conn, o FrontendOptions) (*Frontend, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.wire()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	cat, err := catalog.Open(ctx, js, catalog.Options{
		NodeTimeout: o.NodeTimeout, StreamReplicas: o.StreamReplicas, MetaReplicas: o.MetaReplicas, Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	f := &Frontend{
		Catalog:     cat,
		Coordinator: coordinator.New(nc, cat, o.Coordinator),
		Indexer:     indexer.New(nc, js, cat, o.Indexer),
	}
	o.Web.Logger = o.Logger
	handler := web.New(cat, f.Coordinator, f.Indexer, o.Web)
	f.ln, err = net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		cat.Close()
		return nil, fmt.Errorf("frontend: listen %s: %w", o.HTTPAddr, err)
	}
	f.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	pctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		if err := f.srv.Serve(f.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("http server", "err", err)
		}
	}()
	go func() {
		defer f.wg.Done()
		cat.RunPlacement(pctx, o.HealAfter)
	}()
	return f, nil
}

// URL is the base URL of the HTTP API.
func (f *Frontend) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops serving and placing.
func (f *Frontend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	f.cancel()
	f.wg.Wait()
	f.Catalog.Close()
	return err
}
