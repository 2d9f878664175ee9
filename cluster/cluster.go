package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/searcher"
)

// Options configure an all-in-one cluster.
type Options struct {
	// DataDir holds the broker's and every searcher's data.
	DataDir string
	// NATSListen is the embedded broker's client address
	// ("127.0.0.1:0" picks a free port).
	NATSListen string
	// AuthDir holds the NATS accounts and credentials (default
	// DataDir/auth), made at the first start. Every role connects with an
	// identity of its own, in memory too, and the broker's port refuses
	// anonymous clients (see broker.InitAuth).
	AuthDir string
	// Searchers is the number of searcher nodes (default 4).
	Searchers int
	// InMemoryConns connects the roles to the embedded broker through
	// in-memory pipes instead of loopback TCP. Queries get cheaper (no
	// system calls); bulk ingest through several searchers measured
	// slower, and so do tests under the race detector.
	InMemoryConns bool
	Frontend      FrontendOptions
	// Searcher is the template for every node; Name and DataDir are set
	// per node.
	Searcher searcher.Options
	Logger   *slog.Logger
	// Metrics is the process's registry, shared by the frontend and every
	// searcher (whose families carry a node label); nil: no metrics.
	Metrics *prometheus.Registry
	// TracerProvider makes the spans of every role (nil: none).
	TracerProvider trace.TracerProvider
	// BrokerMonitor, when set, serves the embedded broker's monitoring
	// endpoints there (host:port).
	BrokerMonitor string
}

// Cluster is a whole Shoal in one process.
type Cluster struct {
	opts     Options
	Broker   *broker.Server
	Frontend *Frontend
	frontNC  *nats.Conn
	issuer   *broker.Issuer

	mu    sync.Mutex
	nodes []*node
}

type node struct {
	name string
	nc   *nats.Conn
	ctl  *nats.Conn // the node's heartbeats (searcher.Options.Control)
	n    *searcher.Node
}

// Start starts the broker, the searchers and the frontend.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Searchers <= 0 {
		o.Searchers = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Frontend.Logger == nil {
		o.Frontend.Logger = o.Logger
	}
	if o.Searcher.Logger == nil {
		o.Searcher.Logger = o.Logger
	}
	if o.Metrics != nil {
		o.Frontend.Metrics = o.Metrics
		if o.Searcher.Registerer == nil {
			o.Searcher.Registerer = o.Metrics
		}
	}
	if o.TracerProvider != nil {
		o.Frontend.TracerProvider = o.TracerProvider
		if o.Searcher.TracerProvider == nil {
			o.Searcher.TracerProvider = o.TracerProvider
		}
	}
	if o.AuthDir == "" {
		o.AuthDir = filepath.Join(o.DataDir, "auth")
	}
	if _, err := broker.InitAuth(o.AuthDir); err != nil {
		return nil, err
	}
	issuer, err := broker.OpenIssuer(o.AuthDir)
	if err != nil {
		return nil, err
	}
	srv, err := broker.StartServer(broker.ServerOptions{Name: "shoal-dev", Listen: o.NATSListen, DataDir: filepath.Join(o.DataDir, "nats"),
		AuthDir: o.AuthDir, Logger: o.Logger, Monitor: o.BrokerMonitor})
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, Broker: srv, issuer: issuer}
	if err := c.start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// start connects the frontend, which creates the metadata buckets the
// searchers wait for, starts the searchers, and then the frontend (which
// places shards on the searchers it sees).
func (c *Cluster) start(ctx context.Context) error {
	var err error
	if c.frontNC, err = c.Connect(ctx, "shoal-coordinator", broker.RoleCoordinator, ""); err != nil {
		return err
	}
	js, err := jetstream.New(c.frontNC)
	if err != nil {
		return err
	}
	if _, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{Replicas: c.opts.Frontend.MetaReplicas}); err != nil {
		return err
	}
	for i := 0; i < c.opts.Searchers; i++ {
		c.nodes = append(c.nodes, &node{name: fmt.Sprintf("searcher-%d", i)})
		if err := c.StartSearcher(ctx, i); err != nil {
			return err
		}
	}
	c.Frontend, err = StartFrontend(ctx, c.frontNC, c.opts.Frontend)
	return err
}

// Connect opens a connection to the embedded broker named name, with new
// credentials for role (and node, for a searcher).
func (c *Cluster) Connect(ctx context.Context, name string, role broker.Role, node string) (*nats.Conn, error) {
	creds, err := c.issuer.Issue(role, node)
	if err != nil {
		return nil, err
	}
	return broker.Connect(ctx, c.Broker.ClientURL(), name, append(creds.Options(), c.connOpts()...)...)
}

// AuthDir is the directory of the cluster's NATS accounts and credentials.
func (c *Cluster) AuthDir() string { return c.opts.AuthDir }

// connOpts are the options of every connection to the embedded broker.
func (c *Cluster) connOpts() []nats.Option {
	opts := []nats.Option{broker.LogEvents(c.opts.Logger)}
	if c.opts.InMemoryConns {
		opts = append(opts, c.Broker.InProcess())
	}
	return opts
}

// URL is the HTTP API's base URL.
func (c *Cluster) URL() string { return c.Frontend.URL() }

// NATSURL is the embedded broker's URL.
func (c *Cluster) NATSURL() string { return c.Broker.ClientURL() }

// Searchers is the number of searcher slots.
func (c *Cluster) Searchers() int { return len(c.nodes) }

// Searcher returns the running node in slot i (nil when stopped).
func (c *Cluster) Searcher(i int) *searcher.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].n
}

// StartSearcher (re)starts the searcher in slot i on its own connection and
// data directory.
func (c *Cluster) StartSearcher(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := c.nodes[i]
	if nd.n != nil {
		return nil
	}
	nc, err := c.Connect(ctx, nd.name, broker.RoleSearcher, nd.name)
	if err != nil {
		return err
	}
	ctl, err := c.Connect(ctx, nd.name+"-control", broker.RoleSearcher, nd.name)
	if err != nil {
		nc.Close()
		return err
	}
	opts := c.opts.Searcher
	opts.Name = nd.name
	opts.DataDir = filepath.Join(c.opts.DataDir, nd.name)
	opts.Control = ctl
	n, err := searcher.Start(ctx, nc, opts)
	if err != nil {
		nc.Close()
		ctl.Close()
		return err
	}
	nd.nc, nd.ctl, nd.n = nc, ctl, n
	return nil
}

// StopSearcher stops the searcher in slot i gracefully.
func (c *Cluster) StopSearcher(i int) error {
	c.mu.Lock()
	nd := c.nodes[i]
	n, nc, ctl := nd.n, nd.nc, nd.ctl
	nd.n, nd.nc, nd.ctl = nil, nil, nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	err := n.Close()
	nc.Close()
	ctl.Close()
	return err
}

// KillSearcher cuts the searcher in slot i off the network first, as a
// crash would: its subscriptions vanish at once and its heartbeat is left
// to expire. Its files are then closed so it can be started again.
func (c *Cluster) KillSearcher(i int) error {
	c.mu.Lock()
	nd := c.nodes[i]
	n, nc, ctl := nd.n, nd.nc, nd.ctl
	nd.n, nd.nc, nd.ctl = nil, nil, nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	nc.Close()
	ctl.Close()
	err := n.Close()
	if errors.Is(err, nats.ErrConnectionClosed) {
		err = nil
	}
	return err
}

// WaitReady waits until every shard of every index has a live, caught-up
// copy.
func (c *Cluster) WaitReady(ctx context.Context) error {
	for {
		if len(c.Frontend.Coordinator.Unserved()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: unserved shards %v: %w", c.Frontend.Coordinator.Unserved(), ctx.Err())
		case <-c.Frontend.Catalog.Changed():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops everything.
func (c *Cluster) Close() error {
	var errs []error
	if c.Frontend != nil {
		errs = append(errs, c.Frontend.Close())
	}
	if c.frontNC != nil {
		c.frontNC.Close()
	}
	for i := range c.nodes {
		if err := c.StopSearcher(i); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
	}
	c.Broker.Shutdown()
	return errors.Join(errs...)
}
