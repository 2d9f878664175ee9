// Package bench measures Shoal against plain Bleve on the same documents,
// mapping and queries.
//
// One Run loads a corpus and, in one process, measures:
//
//   - indexing throughput of one Bleve index fed in batches (the limit) and
//     of Shoal's whole write path as `shoal index` drives it: HTTP bulk →
//     JetStream → searchers → searchable in every copy, in alternating
//     rounds (the medians count);
//   - top-10 query latency (p50, p99) and throughput, with one client and
//     with several, of one Bleve index, of the same shards in separate
//     Bleve indexes behind a bleve.IndexAlias, of Shoal's coordinator
//     talking to the searchers over NATS, and of Shoal's HTTP API — in
//     alternating turns, so that other load on the machine weighs on each
//     alike — with the process's CPU time and allocations per query. The
//     queries start once Shoal's searchers have compacted the index they
//     no longer write to (searcher/compact.go), as a user would query it
//     some seconds after a bulk load; the alias's shards stay as scorch's
//     own merging leaves them, and the segments of both are reported;
//   - the tail: with replicas: 2 and one searcher node (holding as few shard
//     copies as possible) slowed by a fixed delay, the coordinator's p99
//     with hedging off and with Shoal's default hedging (adaptive and
//     budgeted, unless Options.HedgeAfter fixes the delay), against the
//     healthy p99 of the default, and how many extra requests hedging sent;
//   - agreement: how often Shoal's top 10 equals the single index's, ties
//     aside (the single index is first merged into one segment, see
//     forceMerge).
//
// The Result prints as a table and encodes as flat JSON for tracking.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/shoal-search/shoal/coordinator"
)

// Options configure a benchmark run. The zero value runs the defaults on
// the built-in sample corpus.
type Options struct {
	// Corpus is a JSON Lines file (plain or gzip); empty means the sample
	// corpus built into Shoal.
	Corpus string
	// Queries is a file of bleve query strings, one per line; empty means
	// NumQueries queries derived from the corpus with a fixed seed. A
	// query that repeats in it counts once.
	Queries string
	// NumQueries is the size of the derived query set (default 50,000).
	NumQueries int
	// Repeat is the number of queries of the repeat phase, which asks
	// them again and again (warm caches); they also warm every engine up
	// and run the tail phases (default 200; negative: no repeat phase).
	Repeat int
	// AgreementQueries is the number of queries whose top 10 is compared
	// with one index's (default 1,000). Neither set takes more than a
	// quarter of the queries; the rest are the distinct phases', where no
	// query repeats until they are used up.
	AgreementQueries int
	// Shards is the shard count of the alias and of Shoal's index
	// (default 8).
	Shards int
	// Docs limits the documents read from the corpus (0: all).
	Docs int
	// Clients is the number of concurrent clients of the multi-client
	// query phases (default 8).
	Clients int
	// Duration is the length of each timed query phase (default 10s).
	Duration time.Duration
	// Turn is how long one engine runs before the next takes over: the
	// four engines are measured in turns so that they meet the same
	// background load (default Duration/10, at least 250ms). With
	// CPUProfile set, each phase runs in one piece.
	Turn time.Duration
	// Searchers is the number of searcher nodes of the main cluster
	// (default one per CPU core, at least 2 and at most Shards).
	Searchers int
	// TCP connects Shoal's roles to the embedded broker over loopback
	// TCP rather than in-memory pipes (as `shoal dev --tcp`).
	TCP bool
	// NoMetrics runs Shoal without any Prometheus metrics (no registry:
	// every hook is a nil check), to measure what they cost; by default
	// every role registers its metrics as `shoal dev` does.
	NoMetrics bool
	// TailSearchers is the number of searcher nodes of the replicated
	// cluster of the tail measurement (default 2×Shards, at most 16, so
	// that one node holds a single shard copy).
	TailSearchers int
	// TailQueries bounds the queries of the tail phases (default 200).
	TailQueries int
	// SlowDelay is the delay added to one searcher in the tail phases
	// (default 200ms).
	SlowDelay time.Duration
	// HedgeAfter fixes when the hedging coordinator sends a second
	// request; 0 leaves it the coordinator's default: adaptive (each
	// node's recent p95) within the default budget.
	HedgeAfter time.Duration
	// BatchSize is the number of documents per batch of the plain Bleve
	// indexes (default 1000).
	BatchSize int
	// BulkBatch is the number of documents per bulk request, and
	// BulkConcurrency the number of bulk requests in flight, of Shoal's
	// loads (default: those of `shoal index`, package bulkload).
	BulkBatch, BulkConcurrency int
	// IndexRounds is the number of indexing rounds, each loading one Bleve
	// index and then one Shoal index; the figures are their medians
	// (default 3).
	IndexRounds int
	// DataDir holds the indexes and the broker's data; empty means a
	// temporary directory removed at the end.
	DataDir string
	// CPUProfile, when set, writes a CPU profile of every phase to
	// CPUProfile-<phase>.pprof, and the heap allocations of the process
	// before and after it to CPUProfile-<phase>.alloc-base.pprof and
	// CPUProfile-<phase>.alloc.pprof (the phase's own are the second
	// with the first as pprof's -base).
	CPUProfile string
	// Progress receives one line per step (nil: none).
	Progress io.Writer
	// Logger receives the clusters' logs (default: warnings to stderr).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.NumQueries <= 0 {
		o.NumQueries = 50000
	}
	if o.Repeat == 0 {
		o.Repeat = 200
	}
	if o.AgreementQueries <= 0 {
		o.AgreementQueries = 1000
	}
	if o.Shards <= 0 {
		o.Shards = 8
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Turn <= 0 {
		o.Turn = max(o.Duration/10, 250*time.Millisecond)
	}
	o.Turn = min(o.Turn, o.Duration)
	if o.Searchers <= 0 {
		// One in-process searcher node per core: nodes in one process
		// share its cores, so more of them only add messages per query.
		o.Searchers = min(o.Shards, max(2, runtime.NumCPU()))
	}
	if o.TailSearchers <= 0 {
		o.TailSearchers = max(2, min(2*o.Shards, 16))
	}
	if o.TailQueries <= 0 {
		o.TailQueries = 200
	}
	if o.SlowDelay <= 0 {
		o.SlowDelay = 200 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.IndexRounds <= 0 {
		o.IndexRounds = 3
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
}

// idleWait bounds the wait for background work (Bleve merges) to settle
// between steps.
const idleWait = 30 * time.Second

// run is the state of one benchmark run.
type run struct {
	o       Options
	res     *Result
	docs    []doc
	sets    querySets
	mapping []byte
	dir     string
	corpus  string // the documents as JSON Lines, once written (writeCorpus)
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, format+"\n", args...)
}

// Run runs the whole benchmark.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.setDefaults()
	began := time.Now()
	r := &run{o: o, res: &Result{
		Corpus: o.Corpus, Shards: o.Shards, Searchers: o.Searchers, Clients: o.Clients,
		DurationS: o.Duration.Seconds(), TurnS: o.Turn.Seconds(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		TailSearchers: o.TailSearchers, SlowDelayMs: ms(o.SlowDelay),
	}}
	if r.res.Corpus == "" {
		r.res.Corpus = "sample"
	}
	var err error
	if r.docs, err = loadDocs(o.Corpus, o.Docs); err != nil {
		return nil, err
	}
	r.res.Docs = len(r.docs)
	var queries []string
	if o.Queries != "" {
		queries, err = readQueries(o.Queries)
	} else {
		queries = deriveQueries(r.docs, o.NumQueries)
	}
	if err != nil {
		return nil, err
	}
	r.sets = splitQueries(queries, o.Repeat, o.AgreementQueries)
	if len(r.sets.timed) == 0 {
		return nil, fmt.Errorf("bench: no queries could be derived from the corpus")
	}
	r.res.Queries, r.res.RepeatQueries = len(r.sets.repeat)+len(r.sets.agreement)+len(r.sets.timed), len(r.sets.repeat)
	if r.mapping, err = mappingJSON(o.Corpus == ""); err != nil {
		return nil, err
	}
	r.dir = o.DataDir
	if r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "shoal-bench-"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(r.dir)
	}
	r.logf("bench: %d documents (%s), %d distinct queries (%d to repeat, %d for agreement, %d for the distinct phases), %d shards, %d clients, %s per phase",
		len(r.docs), r.res.Corpus, r.res.Queries, len(r.sets.repeat), len(r.sets.agreement), len(r.sets.timed), o.Shards, o.Clients, o.Duration)

	if err := r.indexAndQuery(ctx); err != nil {
		return nil, err
	}
	if err := r.tail(ctx); err != nil {
		return nil, err
	}
	r.res.finish()
	r.res.ElapsedS = round(time.Since(began).Seconds(), 1)
	return r.res, nil
}

// indexAndQuery measures indexing, agreement and the four query paths.
func (r *run) indexAndQuery(ctx context.Context) error {
	// 1. One Bleve index and Shoal's whole write path, in rounds; the
	// same shards in separate Bleve indexes.
	single, sh, err := r.indexRounds(ctx)
	if err != nil {
		return err
	}
	defer single.Close()
	defer sh.close()
	alias, shards, err := r.indexAlias(ctx)
	if err != nil {
		return err
	}
	defer closeAll(shards)
	r.settle(ctx, sh, shards)
	// 2. Queries.
	if err := r.query(ctx, []engine{
		{name: "bleve", fn: bleveSearch(single, false)},
		{name: "alias", fn: bleveSearch(alias, true)},
		{name: "shoal", fn: coordSearch(sh.c.Frontend.Coordinator), stats: sh.statsLookups()},
		{name: "http", fn: sh.httpSearch(), stats: sh.statsLookups()},
	}); err != nil {
		return err
	}
	// 3. Broad queries.
	r.broad(ctx, []engine{
		{name: "bleve", fn: bleveSearch(single, false)},
		{name: "alias", fn: bleveSearch(alias, true)},
		{name: "shoal", fn: coordSearch(sh.c.Frontend.Coordinator)},
	})
	return ctx.Err()
}

// tail measures the coordinator's p99 with one slow searcher, with and
// without hedging, on a cluster whose shards have two copies each.
func (r *run) tail(ctx context.Context) error {
	o, res := r.o, r.res
	sh, err := startShoal(ctx, filepath.Join(r.dir, "tail"), o.TailSearchers, o.TCP, !o.NoMetrics, o.Logger)
	if err != nil {
		return err
	}
	defer sh.close()
	if err := sh.createIndex(ctx, benchIndex, o.Shards, 2, r.mapping); err != nil {
		return err
	}
	file, err := r.writeCorpus()
	if err != nil {
		return err
	}
	took, err := sh.load(ctx, benchIndex, file, len(r.docs), o)
	if err != nil {
		return err
	}
	res.IndexDocsPerSShoalR2 = perSecond(len(r.docs), took)
	r.logf("index  shoal, replicas 2 (%d searchers): %.0f docs/s", o.TailSearchers, res.IndexDocsPerSShoalR2)
	if err := sh.waitCopies(ctx, benchIndex, 2); err != nil {
		return err
	}
	sh.waitCompacted(ctx) // as the main cluster's queries
	waitIdle(ctx, idleWait)

	queries := r.sets.repeat
	if len(queries) == 0 {
		queries = r.sets.timed
	}
	queries = queries[:min(len(queries), o.TailQueries)]
	res.TailQueries = len(queries)
	// Two coordinators on the cluster's catalog, each with its own
	// connection, statistics cache, latency estimates and counters: one
	// as Shoal runs by default (hedging adaptive and budgeted, unless
	// HedgeAfter fixes the delay), one with hedging off.
	hedging, err := sh.coordinator(ctx, "shoal-bench-hedging", coordinator.Options{HedgeAfter: o.HedgeAfter})
	if err != nil {
		return err
	}
	plain, err := sh.coordinator(ctx, "shoal-bench-nohedge", coordinator.Options{HedgeBudget: -1})
	if err != nil {
		return err
	}
	res.HedgeAfterMs, res.HedgeMode = ms(o.HedgeAfter), "fixed"
	if o.HedgeAfter <= 0 {
		res.HedgeMode = "adaptive"
	}
	warm(ctx, queries, len(queries), coordSearch(plain))
	warm(ctx, queries, len(queries), coordSearch(hedging))
	if err := r.phase(ctx, "tail-healthy", "tail_healthy", o.Clients, newSource(queries), engine{fn: coordSearch(hedging)}); err != nil {
		return err
	}

	slot, node, copies, err := sh.slowestCandidate()
	if err != nil {
		return err
	}
	res.SlowCopies = copies
	slow := sh.c.Searcher(slot)
	slow.SetSearchDelay(o.SlowDelay)
	defer slow.SetSearchDelay(0)
	r.logf("tail   searcher %s (%d of %d shard copies) answers %s late; hedging %s",
		node, copies, 2*o.Shards, o.SlowDelay, res.HedgeMode)

	if err := r.phase(ctx, "tail-nohedge", "slow_replica_nohedge", o.Clients, newSource(queries), engine{fn: coordSearch(plain)}); err != nil {
		return err
	}
	req0, hedges0 := hedging.Counters()
	if err := r.phase(ctx, "tail-hedge", "slow_replica_hedge", o.Clients, newSource(queries), engine{fn: coordSearch(hedging)}); err != nil {
		return err
	}
	req1, hedges1 := hedging.Counters()
	res.HedgeRequests, res.Hedges = req1-req0, hedges1-hedges0
	if sent := res.HedgeRequests - res.Hedges; sent > 0 {
		res.HedgeExtraRequestsPct = round(100*float64(res.Hedges)/float64(sent), 2)
	}
	r.logf("tail   hedging sent %d extra requests on top of %d (%.2f%%)", res.Hedges, res.HedgeRequests-res.Hedges, res.HedgeExtraRequestsPct)
	return ctx.Err()
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1)
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
