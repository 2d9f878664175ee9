package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/rewrite"
	"github.com/shoal-search/shoal/searcher"
)

// indexBleve creates a Bleve index in dir with the mapping raw and writes
// docs into it in batches of batchSize, each document decoded from its JSON
// as a Shoal searcher does. It returns the index and the time taken until
// the last batch was committed (and so searchable).
func indexBleve(dir string, raw json.RawMessage, docs []doc, batchSize int) (bleve.Index, time.Duration, error) {
	m, err := buildMapping(raw)
	if err != nil {
		return nil, 0, err
	}
	idx, err := bleve.New(dir, m)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: bleve index %s: %w", dir, err)
	}
	start := time.Now()
	b := idx.NewBatch()
	for i, d := range docs {
		var fields map[string]any
		if err := json.Unmarshal(d.Body, &fields); err != nil {
			idx.Close()
			return nil, 0, fmt.Errorf("bench: document %s: %w", d.ID, err)
		}
		if err := b.Index(d.ID, fields); err != nil {
			idx.Close()
			return nil, 0, fmt.Errorf("bench: document %s: %w", d.ID, err)
		}
		if b.Size() == batchSize || i == len(docs)-1 {
			if err := idx.Batch(b); err != nil {
				idx.Close()
				return nil, 0, fmt.Errorf("bench: bleve batch: %w", err)
			}
			b.Reset()
		}
	}
	return idx, time.Since(start), nil
}

// forceMerge merges a scorch index into one segment, and fails if it
// cannot. Bleve's BM25 takes a field's average length from its
// "cardinality", which scorch sums over segments, so a term present in
// several segments counts several times: the scores of one index depend
// on how far its background merging got. Merged into one segment, the
// cardinality is the field's number of distinct terms, which is what
// Shoal's global statistics use. One ForceMerge may leave several segments
// (scorch merges at most ten in a task), so it runs until one is left.
func forceMerge(ctx context.Context, idx bleve.Index) error {
	if err := searcher.MergeIntoOne(ctx, idx, 20); err != nil {
		return fmt.Errorf("bench: the reference index: %w: its field lengths would not be one index's, and agreement would be measured against skewed scores", err)
	}
	return nil
}

// shardedBleve holds the documents in shards separate Bleve indexes, routed
// as Shoal routes them, behind one bleve.IndexAlias. It returns the alias,
// the shard indexes and the time the load took (the shards are loaded in
// parallel).
func shardedBleve(dir string, raw json.RawMessage, docs []doc, shards, batchSize int, parallel int) (bleve.IndexAlias, []bleve.Index, time.Duration, error) {
	parts := make([][]doc, shards)
	for _, d := range docs {
		s := meta.ShardOf(d.ID, shards)
		parts[s] = append(parts[s], d)
	}
	idxs := make([]bleve.Index, shards)
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(max(1, parallel))
	for s := range shards {
		g.Go(func() error {
			var err error
			if len(parts[s]) == 0 {
				m, merr := buildMapping(raw)
				if merr != nil {
					return merr
				}
				idxs[s], err = bleve.New(filepath.Join(dir, strconv.Itoa(s)), m)
				return err
			}
			idxs[s], _, err = indexBleve(filepath.Join(dir, strconv.Itoa(s)), raw, parts[s], batchSize)
			return err
		})
	}
	err := g.Wait()
	took := time.Since(start)
	if err != nil {
		closeAll(idxs)
		return nil, nil, 0, err
	}
	alias := bleve.NewIndexAlias(idxs...)
	m, err := buildMapping(raw)
	if err != nil {
		closeAll(idxs)
		return nil, nil, 0, err
	}
	// With the mapping set and a GlobalScoring context (see bleveSearch),
	// the alias runs Bleve's own BM25 presearch: index-wide document
	// count and field lengths, like Shoal's global statistics (which
	// also sum each term's document frequency).
	if err := alias.SetIndexMapping(m); err != nil {
		closeAll(idxs)
		return nil, nil, 0, fmt.Errorf("bench: alias mapping: %w", err)
	}
	return alias, idxs, took, nil
}

func closeAll(idxs []bleve.Index) {
	for _, idx := range idxs {
		if idx != nil {
			idx.Close()
		}
	}
}

// bleveSearch queries a Bleve index or alias for the top 10 of a query
// string. For an alias, globalScoring asks for Bleve's BM25 presearch.
func bleveSearch(idx bleve.Index, globalScoring bool) searchFunc {
	return func(ctx context.Context, q string, size int) ([]hit, error) {
		if globalScoring {
			ctx = context.WithValue(ctx, search.SearchTypeKey, search.GlobalScoring)
		}
		// The query runs as Shoal runs it (rewrite.Query: match-all,
		// constant-score prefix/wildcard/regexp): the engines answer the
		// same question, and agreement compares like with like.
		rq, err := rewrite.Query(bleve.NewQueryStringQuery(q), rewrite.Limits{})
		if err != nil {
			return nil, err
		}
		req := bleve.NewSearchRequestOptions(rq, size, 0, false)
		res, err := idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, err
		}
		if len(res.Status.Errors) > 0 {
			for name, err := range res.Status.Errors {
				return nil, fmt.Errorf("index %s: %w", name, err)
			}
		}
		out := make([]hit, len(res.Hits))
		for i, h := range res.Hits {
			out[i] = hit{id: h.ID, score: h.Score}
		}
		return out, nil
	}
}
