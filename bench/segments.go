package bench

import (
	"context"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/searcher"
)

// settleWait bounds how long the queries wait for Shoal's searchers to
// compact the benchmark index, once it has taken no writes for
// searcher.DefaultCompactAfter.
const settleWait = searcher.DefaultCompactAfter + time.Minute

// settle waits, at most settleWait, until every copy of Shoal's benchmark
// index is in one segment, as its searchers leave an index that takes no
// more writes, and records the segments of both engines: the queries are
// measured on the indexes as a user would query them some seconds after a
// bulk load. The alias's shards stay as scorch's own merging leaves them.
func (r *run) settle(ctx context.Context, sh *shoal, shards []bleve.Index) {
	copies, segs := sh.waitCompacted(ctx)
	if segs > uint64(copies) {
		r.logf("segments: Shoal's copies were not compacted within %v", settleWait)
	}
	r.res.ShoalSegments = segs
	for _, s := range shards {
		r.res.AliasSegments += searcher.Segments(s)
	}
	r.logf("segments at query time: alias %d in %d shards, shoal %d in %d copies", r.res.AliasSegments, len(shards), segs, copies)
}

// waitCompacted waits, at most settleWait, until every copy of the
// benchmark index is in one segment, and returns the copies and their
// segments.
func (s *shoal) waitCompacted(ctx context.Context) (copies int, segs uint64) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	copies, segs = s.segments()
	for segs > uint64(copies) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		copies, segs = s.segments()
	}
	return copies, segs
}

// segments counts the copies of the benchmark index the searchers hold,
// and their segments.
func (s *shoal) segments() (copies int, segs uint64) {
	for i := range s.c.Searchers() {
		n := s.c.Searcher(i)
		if n == nil {
			continue
		}
		for _, c := range n.Segments()[benchIndex] {
			copies++
			segs += c
		}
	}
	return copies, segs
}
