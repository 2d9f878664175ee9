// Package catalog is the cluster's metadata as every role sees it: index
// definitions, shard maps and searcher heartbeats, kept current in memory by
// watching Shoal's JetStream KV buckets, plus the changes to them (creating
// and deleting indexes, placing shard copies on live nodes).
package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// ErrIndexNotFound is returned for an index that does not exist.
var ErrIndexNotFound = errors.New("index not found")

// ErrIndexExists is returned when creating an index that already exists.
var ErrIndexExists = errors.New("index already exists")

// Options configure a catalog.
type Options struct {
	// NodeTimeout is how long a node may go without a heartbeat before it
	// counts as dead (default 5s).
	NodeTimeout time.Duration
	// StoreStall is how much longer than NodeTimeout a node stays live
	// while no node at all beats: the heartbeat store, not the nodes,
	// went quiet (see live; default 15s, negative: not at all).
	StoreStall time.Duration
	// StreamReplicas is the replica count of index streams (1 or 3).
	StreamReplicas int
	// MetaReplicas is the replica count of the metadata buckets.
	MetaReplicas int
	Logger       *slog.Logger
}

// Catalog is a live view of the cluster metadata.
type Catalog struct {
	opts    Options
	js      jetstream.JetStream
	buckets *meta.Buckets
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex
	indexes map[string]*meta.IndexDef
	maps    map[string]*meta.ShardMap
	nodes   map[string]*meta.NodeStatus
	// newestBeat is the broker time of the latest heartbeat of any node.
	newestBeat time.Time
	changed    chan struct{}
}

// Open opens the metadata buckets and starts following them; it returns
// once the current state has been loaded.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Catalog, error) {
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 5 * time.Second
	}
	switch {
	case opts.StoreStall == 0:
		opts.StoreStall = defaultStoreStall
	case opts.StoreStall < 0:
		opts.StoreStall = 0
	}
	if opts.StreamReplicas <= 0 {
		opts.StreamReplicas = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{Replicas: opts.MetaReplicas})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Catalog{
		opts: opts, js: js, buckets: buckets, log: opts.Logger,
		ctx: cctx, cancel: cancel,
		indexes: map[string]*meta.IndexDef{},
		maps:    map[string]*meta.ShardMap{},
		nodes:   map[string]*meta.NodeStatus{},
		changed: make(chan struct{}),
	}
	ready := make(chan struct{}, 3)
	for _, kv := range []jetstream.KeyValue{buckets.Indexes, buckets.Placement, buckets.Nodes} {
		// The watchers live as long as the catalog, not as long as ctx,
		// which bounds only the opening.
		w, err := kv.WatchAll(cctx)
		if err != nil {
			cancel()
			c.wg.Wait()
			return nil, fmt.Errorf("catalog: watch %s: %w", kv.Bucket(), err)
		}
		c.wg.Add(1)
		go c.follow(kv.Bucket(), w, ready)
	}
	for i := 0; i < 3; i++ {
		select {
		case <-ready:
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("catalog: initial load: %w", ctx.Err())
		}
	}
	if err := c.restoreDefs(ctx); err != nil {
		c.log.Error("catalog: restoring index definitions from the streams", "err", err)
	}
	return c, nil
}

// Close stops following the buckets.
func (c *Catalog) Close() {
	c.cancel()
	c.wg.Wait()
}

// Meta exposes the underlying buckets.
func (c *Catalog) Buckets() *meta.Buckets { return c.buckets }

func (c *Catalog) follow(bucket string, w jetstream.KeyWatcher, ready chan<- struct{}) {
	defer c.wg.Done()
	defer w.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				ready <- struct{}{}
				continue
			}
			c.apply(bucket, e)
		}
	}
}

func (c *Catalog) apply(bucket string, e jetstream.KeyValueEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	del := e.Operation() != jetstream.KeyValuePut
	key := e.Key()
	var err error
	switch bucket {
	case meta.BucketIndexes:
		if del {
			delete(c.indexes, key)
			break
		}
		var d *meta.IndexDef
		if d, err = meta.DecodeIndexDef(e.Value()); err == nil {
			c.indexes[key] = d
		}
	case meta.BucketPlacement:
		if del {
			delete(c.maps, key)
			break
		}
		var m *meta.ShardMap
		if m, err = meta.DecodeShardMap(e.Value()); err == nil {
			c.maps[key] = m
		}
	case meta.BucketNodes:
		if del {
			// A node that stopped cleanly removed its heartbeat. Keep it,
			// without copies and with its last beat, so that it ages into
			// a dead node (and its copies move) like one that crashed.
			if n, ok := c.nodes[key]; ok {
				n.Copies = nil
			}
			break
		}
		var n *meta.NodeStatus
		if n, err = meta.DecodeNodeStatus(e.Value()); err == nil && n.Node != key {
			// Not a node's heartbeat: NATS permissions cannot keep a
			// JetStream API answer, which goes wherever its request's
			// reply subject says, out of this bucket.
			err = fmt.Errorf("the heartbeat of node %q is under the key of %q", n.Node, key)
		}
		if err == nil {
			n.Heartbeat = e.Created() // broker time, not the node's clock
			c.nodes[key] = n
			if n.Heartbeat.After(c.newestBeat) {
				c.newestBeat = n.Heartbeat
			}
		}
	}
	if err != nil {
		c.log.Error("catalog: bad entry", "bucket", bucket, "key", key, "err", err)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Changed returns a channel closed at the next metadata change.
func (c *Catalog) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// Index returns an index's definition.
func (c *Catalog) Index(name string) (*meta.IndexDef, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.indexes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrIndexNotFound, name)
	}
	return d, nil
}

// Indexes lists all index definitions by name.
func (c *Catalog) Indexes() []*meta.IndexDef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*meta.IndexDef, 0, len(c.indexes))
	for _, d := range c.indexes {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ShardMap returns an index's placement (nil when not placed yet).
func (c *Catalog) ShardMap(index string) *meta.ShardMap {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.maps[index]
}

// Nodes returns every node seen beating since the catalog opened, live or
// not (stopped or silent ones with no copies and their last heartbeat), by
// name.
func (c *Catalog) Nodes() []meta.NodeStatus {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]meta.NodeStatus, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Serving reports whether node is live and reports its copy of the
// shard caught up: the copy a query should go to first.
func (c *Catalog) Serving(node, index string, shard int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.nodes[node]
	if !ok || !c.live(n, time.Now()) {
		return false
	}
	for _, cp := range n.Copies {
		if cp.Index == index && cp.Shard == shard {
			return cp.CaughtUp
		}
	}
	return false
}

// Copy returns the heartbeat status of one shard copy, if reported.
func (c *Catalog) Copy(node, index string, shard int) (meta.CopyStatus, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.nodes[node]
	if !ok {
		return meta.CopyStatus{}, false
	}
	for _, cp := range n.Copies {
		if cp.Index == index && cp.Shard == shard {
			return cp, true
		}
	}
	return meta.CopyStatus{}, false
}

// CreateIndex creates the index's stream and definition and places its
// shards on the live nodes.
func (c *Catalog) CreateIndex(ctx context.Context, def meta.IndexDef) (*meta.IndexDef, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkConsumers(ctx, &def); err != nil {
		return nil, err
	}
	var uid [8]byte
	if _, err := rand.Read(uid[:]); err != nil {
		return nil, err
	}
	def.UID = hex.EncodeToString(uid[:])
	def.Created = time.Now().UTC()
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	// Claim the name first, so two creators cannot both succeed.
	if _, err := c.buckets.Indexes.Create(ctx, def.Name, raw); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("%w: %s", ErrIndexExists, def.Name)
		}
		return nil, fmt.Errorf("catalog: create %s: %w", def.Name, err)
	}
	_, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              protocol.StreamName(def.Name),
		Subjects:          []string{protocol.IngestStreamSubjects(def.Name, def.UID)},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1, // keep only each document's latest write
		Storage:           jetstream.FileStorage,
		Replicas:          c.opts.StreamReplicas,
		Discard:           jetstream.DiscardOld,
		Duplicates:        2 * time.Minute,
		// Set, so that the server's default (1,000 per stream) does not
		// leave copies of a large index without a consumer.
		MaxConsumers: streamConsumers(&def),
		// The definition travels with its stream, so that a lost catalog
		// can be rebuilt from the streams (restoreDefs).
		Metadata: map[string]string{streamDefKey: string(raw)},
	})
	if err != nil {
		_ = c.buckets.Indexes.Delete(ctx, def.Name)
		return nil, fmt.Errorf("catalog: create stream for %s: %w", def.Name, err)
	}
	m := &meta.ShardMap{Index: def.Name, Copies: make([][]string, def.Shards)}
	for i := range m.Copies {
		m.Copies[i] = []string{}
	}
	Place(m, def.Replicas, c.LiveNodes(), nil)
	if err := c.putMap(ctx, m, 0, true); err != nil {
		return nil, err
	}
	c.waitFor(ctx, func() bool { _, err := c.Index(def.Name); return err == nil && c.ShardMap(def.Name) != nil })
	return &def, nil
}

// waitFor blocks until cond holds in the local view or ctx ends.
func (c *Catalog) waitFor(ctx context.Context, cond func() bool) {
	for {
		ch := c.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// DeleteIndex removes the index, its placement and its stream.
func (c *Catalog) DeleteIndex(ctx context.Context, name string) error {
	if _, err := c.Index(name); err != nil {
		return err
	}
	if err := c.buckets.Placement.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("catalog: delete placement %s: %w", name, err)
	}
	if err := c.js.DeleteStream(ctx, protocol.StreamName(name)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("catalog: delete stream %s: %w", name, err)
	}
	if err := c.buckets.Indexes.Delete(ctx, name); err != nil {
		return fmt.Errorf("catalog: delete %s: %w", name, err)
	}
	c.waitFor(ctx, func() bool { _, err := c.Index(name); return err != nil })
	return nil
}

func (c *Catalog) putMap(ctx context.Context, m *meta.ShardMap, rev uint64, create bool) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if create {
		_, err = c.buckets.Placement.Put(ctx, m.Index, raw)
	} else {
		_, err = c.buckets.Placement.Update(ctx, m.Index, raw, rev)
	}
	if err != nil {
		return fmt.Errorf("catalog: placement %s: %w", m.Index, err)
	}
	return nil
}

// streamConsumers is how many consumers an index's stream may have: one
// per copy, twice over (a consumer that resets itself, or a copy that
// moves, makes a new one before the old one is gone), and some slack.
func streamConsumers(def *meta.IndexDef) int { return 2*def.Shards*def.Replicas + 16 }

// checkConsumers refuses an index whose copies need more stream consumers
// than the broker's JetStream account allows (max_consumers), so that a
// created index always becomes fully served.
func (c *Catalog) checkConsumers(ctx context.Context, def *meta.IndexDef) error {
	info, err := c.js.AccountInfo(ctx)
	if err != nil {
		return fmt.Errorf("catalog: JetStream account limits: %w", err)
	}
	lim := info.Limits.MaxConsumers
	if need := streamConsumers(def); lim > 0 && info.Consumers+need > lim {
		return &meta.InvalidError{Kind: "settings", Reason: fmt.Sprintf(
			"an index of %d shards × %d replicas needs up to %d stream consumers; the broker's JetStream account allows %d and has %d: use fewer shards or raise max_consumers",
			def.Shards, def.Replicas, need, lim, info.Consumers)}
	}
	return nil
}

// Fields is the union of the fields the live copies of index report.
// complete is false when none reported or one reported only part of its
// fields: then nothing can be concluded from a field's absence.
func (c *Catalog) Fields(index string) (fields map[string]bool, complete bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	fields = map[string]bool{}
	reported := false
	now := time.Now()
	for _, n := range c.nodes {
		if !c.live(n, now) {
			continue
		}
		for _, cp := range n.Copies {
			if cp.Index != index {
				continue
			}
			if cp.FieldsTruncated {
				return nil, false
			}
			reported = reported || cp.Docs > 0
			for _, f := range cp.Fields {
				fields[f] = true
			}
		}
	}
	return fields, reported
}
