package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-search/shoal/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		o        bench.Options
		jsonPath string
		logs     logFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark Shoal against plain Bleve on the same documents, mapping and queries",
		Long: `Measures, in one run and on the same documents, mapping and queries:
indexing into one Bleve index vs Shoal's HTTP bulk path as shoal index drives
it (until searchable), in alternating rounds;
top-10 queries (p50, p99, QPS; 1 client and --clients clients) on one Bleve
index, on the same shards behind a bleve.IndexAlias, on Shoal's coordinator
over NATS and on Shoal's HTTP API, with queries that do not repeat (from
--queries, or derived from the corpus), then again with --repeat queries
asked over and over (warm caches), with the share of Shoal's statistics
that needed no presearch round; the p99 with one slow searcher with and
without hedged requests; and how often Shoal's top 10 equals that of one
Bleve index merged into one segment.
The four query paths are measured in alternating turns, so that background
load on a shared machine weighs on each alike (with --cpuprofile, one after
the other, one profile per phase). Prints a table and, with --json, writes
the figures as flat JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Progress = os.Stderr
			o.Logger = logs.logger()
			res, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := res.WriteTable(os.Stdout); err != nil {
				return err
			}
			if jsonPath == "" {
				return nil
			}
			b, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			fmt.Printf("figures written to %s\n", jsonPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Corpus, "corpus", "", "JSON Lines corpus, plain or .gz (default: the built-in sample corpus)")
	f.StringVar(&o.Queries, "queries", "", "file of bleve query strings, one per line (default: derived from the corpus with a fixed seed)")
	f.IntVar(&o.NumQueries, "num-queries", 50000, "number of derived queries when --queries is not given")
	f.IntVar(&o.Repeat, "repeat", 200, "queries of the repeat phase (warm caches), which also warm the engines up and run the tail (-1: no repeat phase)")
	f.IntVar(&o.AgreementQueries, "agreement", 1000, "queries whose top 10 is compared with one index's")
	f.IntVar(&o.Shards, "shards", 8, "shards of the alias and of Shoal's index")
	f.IntVar(&o.Docs, "docs", 0, "read at most this many documents (0 = all)")
	f.IntVar(&o.Clients, "clients", 8, "concurrent clients of the multi-client query phases")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each timed query phase")
	f.DurationVar(&o.Turn, "turn", 0, "engines are measured in alternating turns of this length (0 = duration/10, at least 250ms)")
	f.IntVar(&o.Searchers, "searchers", 0, "searcher nodes of the main cluster (0 = one per CPU core, at least 2, at most shards)")
	f.BoolVar(&o.TCP, "tcp", false, "connect the roles to the embedded broker over loopback TCP, not in-memory pipes")
	f.BoolVar(&o.NoMetrics, "no-metrics", false, "run Shoal without Prometheus metrics, to compare what they cost")
	f.IntVar(&o.TailSearchers, "tail-searchers", 0, "searcher nodes of the replicas-2 tail cluster (0 = min(2×shards, 16))")
	f.IntVar(&o.TailQueries, "tail-queries", 200, "queries used by the tail phases")
	f.DurationVar(&o.SlowDelay, "slow-delay", 200*time.Millisecond, "delay added to one searcher in the tail phases")
	f.DurationVar(&o.HedgeAfter, "hedge-after", 0, "fix the hedge delay of the tail phase (0 = adaptive, Shoal's default)")
	f.IntVar(&o.BatchSize, "batch", 1000, "documents per batch of the plain Bleve indexes")
	f.IntVar(&o.BulkBatch, "bulk-batch", 0, "documents per bulk request of Shoal's loads (0 = shoal index's default)")
	f.IntVar(&o.BulkConcurrency, "bulk-concurrency", 0, "bulk requests in flight (0 = shoal index's default)")
	f.IntVar(&o.IndexRounds, "index-rounds", 3, "indexing rounds, Bleve and Shoal in turn; the medians count")
	f.StringVar(&o.DataDir, "data", "", "directory for the indexes (default: a temporary one, removed at the end)")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of every phase to PREFIX-<phase>.pprof, and its heap allocations to PREFIX-<phase>.alloc.pprof (compare with -base PREFIX-<phase>.alloc-base.pprof)")
	f.StringVar(&jsonPath, "json", "", "write the figures as JSON to this file")
	logs.register(f, slog.LevelWarn)
	bindEnv(cmd)
	return cmd
}
