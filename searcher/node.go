// Package searcher is a Shoal shard node. It hosts copies of index shards
// placed on it (a Bleve index on disk each), applies each shard's writes from
// its JetStream stream in batches, and answers presearch, search, get and
// stats requests for every caught-up copy over NATS micro services, both in
// the shard's queue group and on a per-copy subject.
package searcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
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
	// BatchSize is the most writes applied in one Bleve batch (default 1000).
	BatchSize int
	// Concurrency bounds the requests handled at once (default 4×CPUs).
	Concurrency int
	// SearchDelay is added before every search answer. It exists for
	// failure tests and the tail-latency benchmark.
	SearchDelay time.Duration
	// MetaReplicas is the replica count of the metadata buckets.
	MetaReplicas int
	// Logger receives operational messages (default slog.Default()).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
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
	log     *slog.Logger
	work    chan func() // requests for the worker pool
	// shardWork runs the per-shard parts of a node request, on a pool
	// of its own: a request waiting for its parts never holds up the
	// workers that run them.
	shardWork chan func()
	delay     atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	copies map[copyKey]*replica
	svc    micro.Service // the node's own endpoints (serveNode)
	stats  *statsCache   // decoded global statistics of recent searches
}

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
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{Replicas: opts.MetaReplicas})
	if err != nil {
		return nil, fmt.Errorf("searcher: %w", err)
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("searcher: data dir: %w", err)
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		opts:      opts,
		nc:        nc,
		js:        js,
		buckets:   buckets,
		log:       opts.Logger.With("node", opts.Name),
		work:      make(chan func()),
		shardWork: make(chan func()),
		ctx:       nctx,
		cancel:    cancel,
		copies:    make(map[copyKey]*replica),
		stats:     newStatsCache(statsCacheSize),
	}
	n.delay.Store(int64(opts.SearchDelay))
	if err := n.heartbeat(ctx); err != nil {
		cancel()
		return nil, err
	}
	// The watch lives as long as the node, not as long as ctx.
	watcher, err := buckets.Placement.WatchAll(nctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("searcher: watch placement: %w", err)
	}
	if n.svc, err = n.serveNode(); err != nil {
		cancel()
		return nil, err
	}
	n.wg.Add(2 + 2*opts.Concurrency)
	for i := 0; i < opts.Concurrency; i++ {
		go n.worker(n.work)
		go n.worker(n.shardWork)
	}
	go n.heartbeatLoop()
	go n.placementLoop(watcher)
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.opts.Name }

// SetSearchDelay changes the delay added before every search answer.
func (n *Node) SetSearchDelay(d time.Duration) { n.delay.Store(int64(d)) }

// Close stops serving, removes the node's heartbeat and closes its shards.
func (n *Node) Close() error {
	if err := n.svc.Stop(); err != nil && n.nc.IsConnected() {
		n.log.Warn("stop node service", "err", err)
	}
	n.cancel()
	n.wg.Wait()
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
	if err := n.buckets.Nodes.Delete(ctx, n.opts.Name); err != nil && n.nc.IsConnected() {
		errs = append(errs, fmt.Errorf("searcher: remove heartbeat: %w", err))
	}
	return errors.Join(errs...)
}

// Status reports the node's hosted copies.
func (n *Node) Status() meta.NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := meta.NodeStatus{Node: n.opts.Name, Heartbeat: time.Now().UTC()}
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
	if _, err := n.buckets.Nodes.Put(ctx, n.opts.Name, b); err != nil {
		return fmt.Errorf("searcher: heartbeat: %w", err)
	}
	return nil
}

func (n *Node) heartbeatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(n.ctx, 2*n.opts.HeartbeatInterval)
			if err := n.heartbeat(ctx); err != nil && n.ctx.Err() == nil {
				n.log.Warn("heartbeat failed", "err", err)
			}
			cancel()
		}
	}
}

// placementLoop follows the placement bucket and opens or drops copies.
func (n *Node) placementLoop(w jetstream.KeyWatcher) {
	defer n.wg.Done()
	defer w.Stop()
	maps := map[string]*meta.ShardMap{}
	// Indexes whose copies could not all be opened (the broker away, a
	// disk error): tried again every retryReconcile, and their data is
	// never taken for stale meanwhile.
	failed := map[string]bool{}
	apply := func(index string) {
		if err := n.reconcile(index, maps[index]); err != nil {
			if !failed[index] {
				n.log.Error("shard copies", "index", index, "err", err)
			}
			failed[index] = true
			return
		}
		delete(failed, index)
	}
	retry := time.NewTicker(retryReconcile)
	defer retry.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-retry.C:
			for index := range failed {
				apply(index)
			}
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // initial values delivered
				n.removeStale(failed)
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				delete(maps, e.Key())
				apply(e.Key())
				continue
			}
			m, err := meta.DecodeShardMap(e.Value())
			if err != nil {
				n.log.Error("bad shard map", "index", e.Key(), "err", err)
				continue
			}
			maps[e.Key()] = m
			apply(e.Key())
		}
	}
}

// retryReconcile is how often a node tries again to open the copies it
// failed to open.
const retryReconcile = time.Second

// reconcile makes the copies this node hosts for index match m. It fails
// if it could not learn the index's definition or open a copy; what it
// could do is done.
func (n *Node) reconcile(index string, m *meta.ShardMap) error {
	want := map[int]bool{}
	if m != nil {
		for s := range m.Copies {
			if m.Holds(n.opts.Name, s) {
				want[s] = true
			}
		}
	}
	var def *meta.IndexDef
	if len(want) > 0 {
		ctx, cancel := context.WithTimeout(n.ctx, apiTimeout)
		e, err := n.buckets.Indexes.Get(ctx, index)
		cancel()
		if err != nil {
			return fmt.Errorf("index definition: %w", err)
		}
		if def, err = meta.DecodeIndexDef(e.Value()); err != nil {
			return err
		}
	}
	n.mu.Lock()
	var drop []*replica
	for k, r := range n.copies {
		if k.index != index {
			continue
		}
		if !want[k.shard] || (def != nil && r.def.UID != def.UID) {
			drop = append(drop, r)
			delete(n.copies, k)
		}
	}
	n.mu.Unlock()
	for _, r := range drop {
		if err := r.stop(); err != nil {
			n.log.Warn("close copy", "index", r.def.Name, "shard", r.num, "err", err)
		}
		if err := os.RemoveAll(r.dir); err != nil {
			n.log.Warn("remove copy", "dir", r.dir, "err", err)
		}
	}
	var errs []error
	for s := range want {
		n.mu.Lock()
		_, have := n.copies[copyKey{index, s}]
		n.mu.Unlock()
		if have {
			continue
		}
		r, err := n.openCopy(def, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("open copy of shard %d: %w", s, err))
			continue
		}
		n.mu.Lock()
		n.copies[copyKey{index, s}] = r
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// removeStale deletes shard directories no placement refers to any more
// (an index deleted while this node was down). The data of indexes in
// failed, whose copies could not be opened yet, stays.
func (n *Node) removeStale(failed map[string]bool) {
	entries, err := os.ReadDir(n.opts.DataDir)
	if err != nil {
		return
	}
	n.mu.Lock()
	keep := map[string]bool{}
	for _, r := range n.copies {
		keep[filepath.Dir(r.dir)] = true
	}
	n.mu.Unlock()
	for _, e := range entries {
		p := filepath.Join(n.opts.DataDir, e.Name())
		name := e.Name()
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i] // <index>.<uid>
		}
		if !e.IsDir() || keep[p] || failed[name] {
			continue
		}
		n.log.Info("removing data of an index no longer placed here", "dir", p)
		os.RemoveAll(p)
	}
}

func (n *Node) copyDir(def *meta.IndexDef, shard int) string {
	return filepath.Join(n.opts.DataDir, def.Name+"."+def.UID, strconv.Itoa(shard))
}

func (n *Node) openCopy(def *meta.IndexDef, shard int) (*replica, error) {
	m, err := meta.BuildMapping(def.Mapping)
	if err != nil {
		return nil, err
	}
	dir := n.copyDir(def, shard)
	sh, err := OpenShard(dir, m)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(n.ctx)
	r := &replica{node: n, def: *def, num: shard, dir: dir, shard: sh, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r, nil
}

// dispatch hands req to the node's worker pool; the subscription goroutine
// waits for a free worker, which pushes back on a flood of requests.
func (n *Node) dispatch(h func(micro.Request)) micro.HandlerFunc {
	return func(req micro.Request) {
		select {
		case n.work <- func() { h(asyncRequest{Request: req, nc: n.nc}) }:
		case <-n.ctx.Done():
		}
	}
}

// worker runs requests until the node closes. A fixed pool keeps its
// goroutines' grown stacks instead of growing a new one per request.
func (n *Node) worker(work <-chan func()) {
	defer n.wg.Done()
	for {
		select {
		case f := <-work:
			f()
		case <-n.ctx.Done():
			return
		}
	}
}

// asyncRequest answers a micro request from another goroutine than the
// one micro called the handler on. micro's own Respond and Error record
// their outcome on the request, which micro reads as soon as the handler
// returns: answering through them after dispatch returned is a data race.
// asyncRequest publishes the same reply (micro's error headers included)
// on the connection instead.
type asyncRequest struct {
	micro.Request
	nc *nats.Conn
}

// Respond sends data to the request's reply subject.
func (r asyncRequest) Respond(data []byte, opts ...micro.RespondOpt) error {
	m := &nats.Msg{Subject: r.Reply(), Data: data}
	for _, o := range opts {
		o(m)
	}
	if err := r.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("%w: %w", micro.ErrRespond, err)
	}
	return nil
}

// RespondJSON sends v as JSON.
func (r asyncRequest) RespondJSON(v any, opts ...micro.RespondOpt) error {
	b, err := json.Marshal(v)
	if err != nil {
		return micro.ErrMarshalResponse
	}
	return r.Respond(b, opts...)
}

// Error sends an error reply as micro.Request.Error does.
func (r asyncRequest) Error(code, description string, data []byte, opts ...micro.RespondOpt) error {
	if code == "" || description == "" {
		return micro.ErrArgRequired
	}
	hdr := micro.WithHeaders(micro.Headers{micro.ErrorHeader: {description}, micro.ErrorCodeHeader: {code}})
	return r.Respond(data, append([]micro.RespondOpt{hdr}, opts...)...)
}

// replica is one hosted copy of a shard.
type replica struct {
	node   *Node
	def    meta.IndexDef
	num    int
	dir    string
	shard  *Shard
	cancel context.CancelFunc
	done   chan struct{}

	pending  atomic.Uint64
	caughtUp atomic.Bool
	svcMu    sync.Mutex
	svc      micro.Service
}

func (r *replica) status() meta.CopyStatus {
	docs, _ := r.shard.Docs()
	return meta.CopyStatus{
		Index:      r.def.Name,
		Shard:      r.num,
		Node:       r.node.opts.Name,
		Docs:       docs,
		AppliedSeq: r.shard.AppliedSeq(),
		Pending:    r.pending.Load(),
		CaughtUp:   r.caughtUp.Load(),
	}
}

func (r *replica) stop() error {
	r.cancel()
	<-r.done
	r.svcMu.Lock()
	if r.svc != nil {
		r.svc.Stop()
		r.svc = nil
	}
	r.svcMu.Unlock()
	return r.shard.Close()
}

// run applies the shard's stream until ctx ends, reconnecting the consumer
// after errors.
func (r *replica) run(ctx context.Context) {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.consume(ctx)
		if ctx.Err() != nil {
			return
		}
		r.node.log.Warn("shard consumer stopped; retrying", "index", r.def.Name, "shard", r.num, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

func (r *replica) consume(ctx context.Context) error {
	// Every JetStream API call gets a deadline: a reply lost while the
	// broker restarts would otherwise block this copy forever (the ordered
	// consumer's Info, for one, waits as long as its context).
	apiCtx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	stream, err := r.node.js.Stream(apiCtx, protocol.StreamName(r.def.Name))
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{protocol.IngestShardFilter(r.def.Name, r.num)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if applied := r.shard.AppliedSeq(); applied > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = applied + 1
	}
	cons, err := stream.OrderedConsumer(apiCtx, cfg)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	info, err := cons.Info(apiCtx)
	if err != nil {
		return fmt.Errorf("consumer info: %w", err)
	}
	r.pending.Store(info.NumPending)
	if info.NumPending == 0 {
		r.markCaughtUp()
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * r.node.opts.BatchSize))
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	defer it.Stop()

	msgs := make(chan jetstream.Msg, r.node.opts.BatchSize)
	errc := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			m, err := it.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { it.Stop(); <-readerDone }()

	batch := make([]Write, 0, r.node.opts.BatchSize)
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case first = <-msgs:
		}
		batch = append(batch[:0], decodeWrite(first))
		last := first
		// Take what has arrived; while the stream says more is pending
		// (a catch-up or a bulk load), wait briefly for it, since one
		// large Bleve batch costs far less than many small ones.
		linger := time.NewTimer(batchLinger)
	drain:
		for len(batch) < r.node.opts.BatchSize {
			select {
			case m := <-msgs:
				batch = append(batch, decodeWrite(m))
				last = m
				continue
			default:
			}
			if md, err := last.Metadata(); err != nil || md.NumPending == 0 {
				break drain
			}
			select {
			case m := <-msgs:
				batch = append(batch, decodeWrite(m))
				last = m
			case <-linger.C:
				break drain
			case <-ctx.Done():
				linger.Stop()
				return ctx.Err()
			}
		}
		linger.Stop()
		if err := r.shard.Apply(batch); err != nil {
			return err
		}
		if md, err := last.Metadata(); err == nil {
			r.pending.Store(md.NumPending)
			if md.NumPending == 0 {
				r.markCaughtUp()
			}
		}
	}
}

// statsCacheSize is the number of decoded statistics a node keeps per
// generation of its cache.
const statsCacheSize = 1024

// apiTimeout bounds each JetStream API request a copy makes.
const apiTimeout = 10 * time.Second

// batchLinger is the longest a copy waits to fill a batch while its stream
// has more writes pending.
const batchLinger = 20 * time.Millisecond

func decodeWrite(m jetstream.Msg) Write {
	w := Write{Op: m.Headers().Get(protocol.HeaderOp), ID: m.Headers().Get(protocol.HeaderID), Doc: m.Data()}
	if md, err := m.Metadata(); err == nil {
		w.Seq = md.Sequence.Stream
	}
	return w
}

// markCaughtUp starts serving queries the first time the copy has applied
// everything in its stream; a copy that is still rebuilding never answers.
func (r *replica) markCaughtUp() {
	if r.caughtUp.Swap(true) {
		return
	}
	if err := r.serve(); err != nil {
		r.node.log.Error("serve copy", "index", r.def.Name, "shard", r.num, "err", err)
		r.caughtUp.Store(false)
	}
}

func (r *replica) serve() error {
	r.svcMu.Lock()
	defer r.svcMu.Unlock()
	if r.svc != nil {
		return nil
	}
	n := r.node
	svc, err := micro.AddService(n.nc, micro.Config{
		Name:        protocol.ShardService,
		Version:     "1.0.0",
		Description: "a copy of a Shoal index shard",
		QueueGroup:  protocol.QueueGroup,
		Metadata: map[string]string{
			"index": r.def.Name, "shard": strconv.Itoa(r.num), "node": n.opts.Name,
		},
	})
	if err != nil {
		return err
	}
	handlers := map[string]func(micro.Request){
		protocol.OpSearch:    r.handleSearch,
		protocol.OpPresearch: r.handlePresearch,
		protocol.OpGet:       r.handleGet,
		protocol.OpStats:     r.handleStats,
	}
	shared := svc.AddGroup(protocol.ShardGroup(r.def.Name, r.num))
	direct := svc.AddGroup(protocol.CopyGroup(n.opts.Name, r.def.Name, r.num), micro.WithGroupQueueGroupDisabled())
	for op, h := range handlers {
		if err := shared.AddEndpoint(op, n.dispatch(h)); err != nil {
			svc.Stop()
			return err
		}
		if err := direct.AddEndpoint(op, n.dispatch(h)); err != nil {
			svc.Stop()
			return err
		}
	}
	if err := direct.AddEndpoint(protocol.OpWait, n.dispatch(r.handleWait)); err != nil {
		svc.Stop()
		return err
	}
	r.svc = svc
	return nil
}

func respondJSON(req micro.Request, v any) {
	if err := req.RespondJSON(v); err != nil {
		_ = req.Error(strconv.Itoa(protocol.CodeInternal), "encode reply: "+err.Error(), nil)
	}
}

func respondErr(req micro.Request, code int, err error) {
	_ = req.Error(strconv.Itoa(code), err.Error(), nil)
}

func (r *replica) handleSearch(req micro.Request) {
	var sr protocol.SearchRequest
	if err := json.Unmarshal(req.Data(), &sr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode search request: %w", err))
		return
	}
	breq, stats, err := r.node.prepareSearch(sr.Request, sr.Stats)
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, err)
		return
	}
	ctx, cancel, err := r.node.searchContext(sr.Timeout)
	defer cancel()
	if err != nil {
		respondErr(req, protocol.CodeTimeout, err)
		return
	}
	res, err := r.shard.Search(ctx, breq, stats)
	if err != nil {
		respondErr(req, searchErrorCode(ctx), err)
		return
	}
	respondReply(req, &protocol.SearchReply{
		Node:   r.node.opts.Name,
		Shards: []protocol.NodeShardStatus{{Shard: r.num, AppliedSeq: r.shard.AppliedSeq()}},
		Result: res,
	})
}

// respondReply answers a search with a protocol.SearchReply.
func respondReply(req micro.Request, r *protocol.SearchReply) {
	b, err := r.AppendBinary(make([]byte, 0, 1024))
	if err != nil {
		respondErr(req, protocol.CodeInternal, err)
		return
	}
	if err := req.Respond(b); err != nil {
		respondErr(req, protocol.CodeInternal, err)
	}
}

func (r *replica) handlePresearch(req micro.Request) {
	var pr protocol.PresearchRequest
	if err := json.Unmarshal(req.Data(), &pr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode presearch request: %w", err))
		return
	}
	q, err := query.ParseQuery(pr.Query)
	if err == nil {
		q, err = parseStrings(q)
	}
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("parse query: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.node.ctx, searchTimeout)
	defer cancel()
	st, err := r.shard.Presearch(ctx, q)
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, err)
		return
	}
	resp := protocol.PresearchResponse{Node: r.node.opts.Name, AppliedSeq: r.shard.AppliedSeq(), Stats: *st}
	for f := range st.Fields {
		raw, seq, err := r.shard.FieldTerms(f)
		if err != nil {
			respondErr(req, protocol.CodeInternal, err)
			return
		}
		if have, ok := pr.Have[f]; ok && have == seq {
			continue
		}
		if resp.FieldTerms == nil {
			resp.FieldTerms = map[string][]byte{}
		}
		resp.FieldTerms[f] = raw
		resp.AppliedSeq = seq
	}
	respondJSON(req, resp)
}

func (r *replica) handleGet(req micro.Request) {
	var gr protocol.GetRequest
	if err := json.Unmarshal(req.Data(), &gr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode get request: %w", err))
		return
	}
	doc, err := r.shard.Get(gr.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		respondJSON(req, protocol.GetResponse{Node: r.node.opts.Name})
	case err != nil:
		respondErr(req, protocol.CodeInternal, err)
	default:
		respondJSON(req, protocol.GetResponse{Node: r.node.opts.Name, Found: true, Doc: doc})
	}
}

func (r *replica) handleStats(req micro.Request) {
	respondJSON(req, r.status())
}

func (r *replica) handleWait(req micro.Request) {
	var wr protocol.WaitRequest
	if err := json.Unmarshal(req.Data(), &wr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode wait request: %w", err))
		return
	}
	if wr.Timeout <= 0 || wr.Timeout > 10*time.Minute {
		wr.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(r.node.ctx, wr.Timeout)
	defer cancel()
	if err := r.shard.WaitApplied(ctx, wr.Seq); err != nil {
		respondErr(req, protocol.CodeTimeout, fmt.Errorf("wait for seq %d (applied %d): %w", wr.Seq, r.shard.AppliedSeq(), err))
		return
	}
	respondJSON(req, r.status())
}
