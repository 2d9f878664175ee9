package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/bulkload"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/searcher"
)

// indexRounds measures indexing in Options.IndexRounds rounds, each loading
// the documents into a new Bleve index and then into a new Shoal index of
// the main cluster, so that background load on the machine weighs on both
// alike; the figures are the rounds' medians. It returns the last round's
// Bleve index, merged into one segment as the reference for agreement (see
// forceMerge), and the cluster, whose benchIndex holds the last round's
// documents; the caller closes both.
func (r *run) indexRounds(ctx context.Context) (bleve.Index, *shoal, error) {
	o := r.o
	file, err := r.writeCorpus()
	if err != nil {
		return nil, nil, err
	}
	sh, err := startShoal(ctx, filepath.Join(r.dir, "shoal"), o.Searchers, o.TCP, !o.NoMetrics, o.Logger)
	if err != nil {
		return nil, nil, err
	}
	var single bleve.Index
	var bleveRates, shoalRates []float64
	for round := 1; round <= o.IndexRounds; round++ {
		last := round == o.IndexRounds
		if single != nil {
			single.Close() // an earlier round's
		}
		var rate float64
		single, rate, err = r.indexSingle(filepath.Join(r.dir, fmt.Sprint("bleve-", round)), last)
		if err != nil {
			break
		}
		bleveRates = append(bleveRates, rate)
		waitIdle(ctx, idleWait)
		if last {
			if err = forceMerge(ctx, single); err != nil {
				break
			}
			waitIdle(ctx, idleWait)
		}
		index := benchIndex
		if !last {
			index = fmt.Sprint(benchIndex, "-round", round)
		}
		if rate, err = r.indexShoal(ctx, sh, index, file, last); err != nil {
			break
		}
		shoalRates = append(shoalRates, rate)
		r.res.IndexRatios = append(r.res.IndexRatios, ratio(rate, bleveRates[len(bleveRates)-1]))
		r.logf("index  round %d: bleve %.0f docs/s, shoal %.0f docs/s (%.3f)", round, bleveRates[len(bleveRates)-1], rate, r.res.IndexRatios[len(r.res.IndexRatios)-1])
		if !last {
			if err = sh.cl.DeleteIndex(ctx, index); err != nil {
				break
			}
		}
		waitIdle(ctx, idleWait)
	}
	if err != nil {
		if single != nil {
			single.Close()
		}
		sh.close()
		return nil, nil, err
	}
	r.res.IndexDocsPerSBleve, r.res.IndexDocsPerSShoal = median(bleveRates), median(shoalRates)
	r.res.ReferenceSegments = searcher.Segments(single)
	r.logf("index  bleve merged into %d segment", r.res.ReferenceSegments)
	return single, sh, nil
}

// indexSingle indexes the documents into one Bleve index in dir and
// returns it with its rate; profiled is the round whose CPU profile is
// written (Options.CPUProfile).
func (r *run) indexSingle(dir string, profiled bool) (bleve.Index, float64, error) {
	var single bleve.Index
	var rate float64
	err := r.maybeProfile(profiled, "index-bleve", func() error {
		var took time.Duration
		var err error
		single, took, err = indexBleve(dir, r.mapping, r.docs, r.o.BatchSize)
		if err == nil {
			rate = perSecond(len(r.docs), took)
			r.logf("index  bleve (1 index, batches of %d): %.0f docs/s (%s)", r.o.BatchSize, rate, took.Round(time.Millisecond))
		}
		return err
	})
	return single, rate, err
}

// indexShoal creates index on sh and loads the corpus file into it as
// `shoal index` does, until every document is searchable; it returns the
// rate.
func (r *run) indexShoal(ctx context.Context, sh *shoal, index, file string, profiled bool) (float64, error) {
	o := r.o
	if err := sh.createIndex(ctx, index, o.Shards, 1, r.mapping); err != nil {
		return 0, err
	}
	var rate float64
	err := r.maybeProfile(profiled, "index-shoal", func() error {
		took, err := sh.load(ctx, index, file, len(r.docs), o)
		if err == nil {
			rate = perSecond(len(r.docs), took)
			r.logf("index  shoal (shoal index's loader over HTTP, %d searchers): %.0f docs/s (%s)", o.Searchers, rate, took.Round(time.Millisecond))
		}
		return err
	})
	return rate, err
}

// maybeProfile runs fn, profiled as name if on.
func (r *run) maybeProfile(on bool, name string, fn func() error) error {
	if !on {
		return fn()
	}
	return profile(r.o.CPUProfile, name, fn)
}

// writeCorpus writes the documents as JSON Lines into the run's directory,
// for the loader, once, and returns the file's path.
func (r *run) writeCorpus() (string, error) {
	if r.corpus != "" {
		return r.corpus, nil
	}
	path := filepath.Join(r.dir, "corpus.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, d := range r.docs {
		w.Write(d.Body)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("bench: write corpus: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("bench: write corpus: %w", err)
	}
	r.corpus = path
	return path, nil
}

// load loads the JSON Lines file into index with package bulkload, the
// loader of `shoal index` (its defaults, unless o sets the bulk batch size
// or the requests in flight), and waits until every copy of every shard
// has applied its documents, want in all. It returns the time from the
// first request until then.
func (s *shoal) load(ctx context.Context, index, file string, want int, o Options) (time.Duration, error) {
	start := time.Now()
	l := bulkload.New(s.cl, bulkload.Options{
		Index: index, Files: []string{file}, NoCheckpoint: true,
		BatchDocs: o.BulkBatch, Concurrency: o.BulkConcurrency,
	})
	sum, err := l.Load(ctx)
	if err != nil {
		return 0, fmt.Errorf("bench: load: %w", err)
	}
	if sum.Failed > 0 {
		return 0, fmt.Errorf("bench: load: %d documents failed", sum.Failed)
	}
	for {
		info, err := s.cl.GetIndex(ctx, index)
		if err != nil {
			return 0, fmt.Errorf("bench: index info: %w", err)
		}
		done, err := searchable(info, uint64(want))
		if done || err != nil {
			return time.Since(start), err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: %d of %d documents searchable: %w", info.Docs, want, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// searchable says whether the index info describes holds want documents,
// in every copy of each shard.
func searchable(info *client.IndexInfo, want uint64) (bool, error) {
	if info.Docs > want {
		return false, fmt.Errorf("bench: the index holds %d documents, %d were sent", info.Docs, want)
	}
	if info.Docs < want {
		return false, nil
	}
	best := map[int]uint64{}
	for _, st := range info.ShardStats {
		best[st.Shard] = max(best[st.Shard], st.Docs)
	}
	for _, st := range info.ShardStats {
		if st.Docs != best[st.Shard] {
			return false, nil
		}
	}
	return true, nil
}

// median is the middle of xs (the mean of the two middle ones for an even
// count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return round((s[n/2-1]+s[n/2])/2, 3)
	}
	return s[len(s)/2]
}

// indexAlias indexes the same shards in separate Bleve indexes behind an
// alias; the caller closes the shards.
func (r *run) indexAlias(ctx context.Context) (bleve.IndexAlias, []bleve.Index, error) {
	o, res := r.o, r.res
	alias, shards, took, err := shardedBleve(filepath.Join(r.dir, "alias"), r.mapping, r.docs, o.Shards, o.BatchSize, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, nil, err
	}
	res.IndexDocsPerSAlias = perSecond(len(r.docs), took)
	r.logf("index  alias (%d bleve indexes, in parallel): %.0f docs/s (%s)", o.Shards, res.IndexDocsPerSAlias, took.Round(time.Millisecond))
	waitIdle(ctx, idleWait)
	return alias, shards, nil
}
