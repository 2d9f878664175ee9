// Package cluster assembles Shoal's roles into running processes: the
// frontend (catalog, placement, coordinator, indexer and HTTP server on one
// NATS connection) that `shoal coordinator` runs, and the all-in-one
// Cluster (embedded broker, searcher nodes and a frontend in one process)
// that `shoal dev` and the tests run.
package cluster

import (
	"context"
	"crypto/tls"
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

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/broker"
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
	// HTTP bounds the HTTP server's connections (see HTTPTimeouts).
	HTTP HTTPTimeouts
	// TLS, when it names a certificate, serves the API over HTTPS.
	TLS         broker.TLSFiles
	Coordinator coordinator.Options
	Indexer     indexer.Options
	Web         web.Options
	Logger      *slog.Logger
	// Metrics is the process's registry (NewRegistry): the coordinator
	// and the indexer register with it and /metrics serves it. Nil: no
	// metrics at all (what the benchmark compares with).
	Metrics *prometheus.Registry
	// TracerProvider makes the spans of every request (nil: none).
	TracerProvider trace.TracerProvider
}

// HTTPTimeouts bound how long a client may take to send a request, how
// long an answer may take, and how long an idle connection is kept. Zero
// fields take the defaults.
type HTTPTimeouts struct {
	// ReadHeader bounds reading a request's headers (default 10s).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (default 2m).
	Read time.Duration
	// Write bounds a request from the end of its headers to the end of
	// its answer (default 3m: a write's deadline plus its refresh wait).
	Write time.Duration
	// Idle bounds a keep-alive connection between requests (default 2m).
	Idle time.Duration
}

func (t *HTTPTimeouts) setDefaults() {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 10 * time.Second
	}
	if t.Read <= 0 {
		t.Read = 2 * time.Minute
	}
	if t.Write <= 0 {
		t.Write = 3 * time.Minute
	}
	if t.Idle <= 0 {
		t.Idle = 2 * time.Minute
	}
}

// Frontend is a running coordinator process: it serves the HTTP API and
// keeps shards placed.
type Frontend struct {
	Catalog     *catalog.Catalog
	Coordinator *coordinator.Coordinator
	Indexer     *indexer.Indexer
	Keys        *apikeys.Store

	ln     net.Listener
	srv    *http.Server
	scheme string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartFrontend starts a frontend on nc.
func StartFrontend(ctx context.Context, nc *nats.Conn, o FrontendOptions) (*Frontend, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.wire()
	o.HTTP.setDefaults()
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
	keys, err := apikeys.Open(ctx, js, apikeys.Options{Replicas: o.MetaReplicas, Logger: o.Logger})
	if err != nil {
		cat.Close()
		return nil, fmt.Errorf("frontend: %w", err)
	}
	f := &Frontend{
		Catalog:     cat,
		Coordinator: coordinator.New(nc, cat, o.Coordinator),
		Indexer:     indexer.New(nc, js, cat, o.Indexer),
		Keys:        keys,
	}
	o.Web.Logger, o.Web.Keys = o.Logger, keys
	handler := web.New(cat, f.Coordinator, f.Indexer, o.Web)
	f.ln, f.scheme, err = listen(o.HTTPAddr, o.TLS)
	if err != nil {
		keys.Close()
		cat.Close()
		return nil, err
	}
	f.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: o.HTTP.ReadHeader,
		ReadTimeout:       o.HTTP.Read,
		WriteTimeout:      o.HTTP.Write,
		IdleTimeout:       o.HTTP.Idle,
	}
	warnIfOpen(o, f.ln.Addr(), keys.Configured())
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

// warnIfOpen says loudly when the API can be reached from other machines
// and answers anyone: no master key, and the cluster never had a key.
func warnIfOpen(o FrontendOptions, addr net.Addr, keys bool) {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	if o.Web.APIKey != "" || keys {
		return
	}
	o.Logger.Warn("SECURITY: the HTTP API listens on " + addr.String() + ", beyond this machine, and no API key is set: " +
		"anyone who can reach it can read, write and delete every index. Set --api-key (and create scoped keys with POST /v1/keys), " +
		"or listen on 127.0.0.1.")
}

// listen opens the API's listener, with TLS when tf names a certificate,
// and returns it with its URL scheme.
func listen(addr string, tf broker.TLSFiles) (net.Listener, string, error) {
	var tc *tls.Config
	if tf.Enabled() {
		var err error
		if tc, err = tf.ServerConfig(); err != nil {
			return nil, "", fmt.Errorf("frontend: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("frontend: listen %s: %w", addr, err)
	}
	if tc == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, tc), "https", nil
}

// URL is the base URL of the HTTP API.
func (f *Frontend) URL() string { return f.scheme + "://" + f.ln.Addr().String() }

// Close stops serving and placing.
func (f *Frontend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	f.cancel()
	f.wg.Wait()
	f.Keys.Close()
	f.Catalog.Close()
	return err
}
