// Package searcher is a Shoal shard node. It hosts copies of index shards
// placed on it (a Bleve index on disk each), applies each shard's writes from
// its JetStream stream in batches, and answers presearch, search, get and
// stats requests for every caught-up copy over NATS, both in the shard's
// queue group and on a per-copy subject.
//
// The package is split by job: node.go (lifecycle and heartbeat),
// reconcile.go (placement), replica.go (a copy's stream consumer),
// endpoints.go and request.go (subscriptions and replies), pool.go (the
// worker pool), handlers.go and nodesearch.go (the request handlers) and
// faults.go (failures tests inject).
package searcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/lograte"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/rewrite"
	"github.com/shoal-search/shoal/tracing"
)

// Options configure a searcher node.
type Options struct {
	// Name identifies the node in placement; it must be stable across
	// restarts so the node finds its shards again.
	Name string
	// DataDir holds the node's shard indexes.
	DataDir string
	// HeartbeatInterval is how often the node reports itself (default 1s).
	HeartbeatInterval time.Duration
	// BatchSize is the most writes applied in one Bleve batch (default
	// DefaultBatchWrites).
	BatchSize int
	// Concurrency bounds the requests handled at once (default 4×CPUs).
	Concurrency int
	// Logger receives operational messages (default slog.Default()).
	Logger *slog.Logger
	// Control, when set, is a second connection the node's heartbeats
	// take (nil: the node's own). On the connection its copies pull
	// their writes over, a heartbeat's reply waits behind megabytes of
	// them: under a bulk load on two cores, heartbeats timed out for
	// seconds on end and the node counted as dead. The node beats only
	// while its own connection is up, so a node that lost it still
	// stops counting as live.
	Control *nats.Conn
	// QueryLimits bound the work of one query on this node (zero fields
	// take rewrite's defaults).
	QueryLimits rewrite.Limits
	// StatsCacheBytes bounds the decoded statistics the node keeps
	// (default DefaultStatsCacheBytes); TermSetBytes bounds, per shard
	// copy, the term tables it keeps for presearches (default
	// DefaultTermSetBytes).
	StatsCacheBytes int64
	TermSetBytes    int64
	// CompactAfter is how long a copy takes no writes before the node
	// merges it into one segment (compact.go; default
	// DefaultCompactAfter, negative: never).
	CompactAfter time.Duration
	// Registerer receives the node's metrics (metrics.go), each labelled
	// with the node's name; nil records none.
	Registerer prometheus.Registerer
	// TracerProvider makes the spans of the searches the node answers,
	// children of the coordinator's span that each request's traceparent
	// header names (nil: none).
	TracerProvider trace.TracerProvider
}

func (o *Options) setDefaults() {
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchWrites
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.QueryLimits = o.QueryLimits.WithDefaults()
	if o.StatsCacheBytes <= 0 {
		o.StatsCacheBytes = DefaultStatsCacheBytes
	}
	if o.TermSetBytes <= 0 {
		o.TermSetBytes = DefaultTermSetBytes
	}
	if o.CompactAfter == 0 {
		o.CompactAfter = DefaultCompactAfter
	}
}

type copyKey struct {
	index string
	shard int
}

// Node is a running searcher node.
type Node struct {
	opts    Options
	nc      *nats.Conn
	js      jetstream.JetStream
	buckets *meta.Buckets
	beats   jetstream.KeyValue // the nodes bucket, over Options.Control
	log     *slog.Logger
	pool    *pool
	faults  Faults
	metrics *metrics // nil: none
	tracer  trace.Tracer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	copies map[copyKey]*replica
	// dropping holds the directories of copies being closed and deleted.
	dropping map[string]bool
	// waits holds a token per wait request in progress (maxWaits).
	waits chan struct{}
	subs  endpoints   // the node's own endpoints (serveNode)
	stats *statsCache // decoded global statistics of recent searches
	// automata are the fuzzy automata the node's shards share.
	automata *automata
	// refused rate-limits the log of requests refused for their reply
	// subject, which any requester can send at will.
	refused lograte.Limiter
	// cancels are the running searches a coordinator may cancel.
	cancels *cancels
}

// saturatedAfter is how long every worker must have been busy before the
// node reports itself unable to take requests.
const saturatedAfter = 2 * time.Second

// Default memory bounds of a node's caches.
const (
	DefaultStatsCacheBytes = 32 << 20
	DefaultTermSetBytes    = 16 << 20
)

// Start starts a searcher node on an open NATS connection. The node owns
// its goroutines until Close.
func Start(ctx context.Context, nc *nats.Conn, opts Options) (*Node, error) {
	opts.setDefaults()
	if err := meta.ValidNodeName(opts.Name); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("searcher: jetstream: %w", err)
	}
	buckets, err := lookupBuckets(ctx, js, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("searcher: %w", err)
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("searcher: data dir: %w", err)
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		opts:     opts,
		nc:       nc,
		js:       js,
		buckets:  buckets,
		log:      opts.Logger.With("node", opts.Name),
		ctx:      nctx,
		cancel:   cancel,
		copies:   make(map[copyKey]*replica),
		dropping: map[string]bool{},
		waits:    make(chan struct{}, maxWaits),
		stats:    newStatsCache(opts.StatsCacheBytes),
		automata: newAutomata(DefaultAutomataBytes),
		refused:  lograte.Limiter{Every: 10 * time.Second},
		cancels:  newCancels(),
		tracer:   tracing.OrNoop(opts.TracerProvider).Tracer("github.com/shoal-search/shoal/searcher"),
	}
	if n.beats, err = controlBeats(ctx, opts.Control, buckets); err != nil {
		cancel()
		return nil, err
	}
	if n.metrics, err = newMetrics(opts.Registerer, n); err != nil {
		cancel()
		return nil, err
	}
	if err := n.heartbeat(ctx); err != nil {
		cancel()
		n.metrics.unregister()
		return nil, err
	}
	// The watch lives as long as the node, not as long as ctx.
	watcher, err := buckets.Placement.WatchAll(nctx)
	if err != nil {
		cancel()
		n.metrics.unregister()
		return nil, fmt.Errorf("searcher: watch placement: %w", err)
	}
	// The pool runs before anything can be dispatched to it.
	n.pool = startPool(nctx, opts.Concurrency)
	if n.subs, err = n.serveNode(); err != nil {
		cancel()
		n.pool.wait()
		watcher.Stop()
		n.metrics.unregister()
		return nil, err
	}
	n.wg.Add(2)
	go n.heartbeatLoop()
	go n.placementLoop(watcher)
	if opts.CompactAfter > 0 {
		n.wg.Add(1)
		go n.compactLoop()
	}
	return n, nil
}

// controlBeats is the nodes bucket over the control connection ctl, or
// the one in buckets without one.
func controlBeats(ctx context.Context, ctl *nats.Conn, buckets *meta.Buckets) (jetstream.KeyValue, error) {
	if ctl == nil {
		return buckets.Nodes, nil
	}
	js, err := jetstream.New(ctl)
	if err != nil {
		return nil, fmt.Errorf("searcher: control connection: %w", err)
	}
	kv, err := js.KeyValue(ctx, meta.BucketNodes)
	if err != nil {
		return nil, fmt.Errorf("searcher: control connection: %w", err)
	}
	return kv, nil
}

// bucketsPoll is how often a node looks for metadata buckets that do not
// exist yet.
const bucketsPoll = 250 * time.Millisecond

// lookupBuckets opens the metadata buckets, waiting until ctx ends for a
// coordinator to create them: a node may not create them itself.
func lookupBuckets(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*meta.Buckets, error) {
	logged := false
	for {
		b, err := meta.LookupBuckets(ctx, js)
		if err == nil || !errors.Is(err, jetstream.ErrBucketNotFound) {
			return b, err
		}
		if !logged {
			log.Info("waiting for a coordinator to create the metadata buckets", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(bucketsPoll):
		}
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Close stops serving, removes the node's heartbeat and closes its shards.
func (n *Node) Close() error {
	if err := n.subs.stop(); err != nil && n.nc.IsConnected() {
		n.log.Warn("stop node endpoints", "err", err)
	}
	n.cancel()
	n.wg.Wait()
	n.pool.wait()
	n.metrics.unregister()
	n.mu.Lock()
	copies := n.copies
	n.copies = map[copyKey]*replica{}
	n.mu.Unlock()
	var errs []error
	for _, r := range copies {
		errs = append(errs, r.stop())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.beats.Delete(ctx, n.opts.Name); err != nil && n.nc.IsConnected() {
		errs = append(errs, fmt.Errorf("searcher: remove heartbeat: %w", err))
	}
	return errors.Join(errs...)
}

// Status reports the node's hosted copies.
func (n *Node) Status() meta.NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := meta.NodeStatus{Node: n.opts.Name, Heartbeat: time.Now().UTC()}
	if full := n.pool.fullFor(); full > saturatedAfter {
		st.Saturated = fmt.Sprintf("all %d request workers busy for %v", n.opts.Concurrency, full.Round(time.Second))
	}
	for _, r := range n.copies {
		st.Copies = append(st.Copies, r.status())
	}
	return st
}

func (n *Node) heartbeat(ctx context.Context) error {
	b, err := json.Marshal(n.Status())
	if err != nil {
		return err
	}
	if !n.nc.IsConnected() {
		return fmt.Errorf("searcher: heartbeat: %w", nats.ErrConnectionClosed)
	}
	if _, err := n.beats.Put(ctx, n.opts.Name, b); err != nil {
		return fmt.Errorf("searcher: heartbeat: %w", err)
	}
	return nil
}

func (n *Node) heartbeatLoop() {
	n.every(n.opts.HeartbeatInterval, func() {
		ctx, cancel := context.WithTimeout(n.ctx, 2*n.opts.HeartbeatInterval)
		defer cancel()
		if err := n.heartbeat(ctx); err != nil && n.ctx.Err() == nil {
			n.log.Warn("heartbeat failed", "err", err)
		}
	})
}

// every calls fn every d until the node closes, and then marks the
// goroutine done (n.wg).
func (n *Node) every(d time.Duration, fn func()) {
	defer n.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
