package coordinator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
)

// heapBytes is the live heap after a collection.
func heapBytes() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// broadHeapBound is how much the live heap may grow over a stream of 330
// broad queries on 12,000 documents: the caches are bounded in bytes and
// a broad query holds no per-term statistics. (Before the rewrite, one
// q=* grew the process by about 400 MB on 30,000 documents; its speed is
// measured by the bench's broad phase, not here.)
const broadHeapBound = 64 << 20

// TestBroadQueries: match-all in every spelling answers with the document
// count without a presearch, and a long stream of broad queries (match-all,
// short prefixes, wildcards, fuzzy) keeps the heap under a bound.
func TestBroadQueries(t *testing.T) {
	dir := sharedCorpus(t)
	ops := readDocs(t, filepath.Join(dir, "gcide.jsonl.gz"), 12000)
	if len(ops) < 12000 {
		t.Fatalf("corpus too small: %d docs", len(ops))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{DataDir: t.TempDir(), NATSListen: "127.0.0.1:-1", Searchers: 2,
		Frontend: cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	load(t, ctx, c, "broad", 8, ops)
	// A generous timeout: this test is about what runs, not how fast
	// (the race detector on two busy cores is slow).
	search := func(q string, size int) *coordinator.Response {
		t.Helper()
		req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), size, 0, false)
		res, err := c.Frontend.Coordinator.Search(ctx, "broad", coordinator.Request{Search: req, Timeout: time.Minute, Profile: true})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if res.Partial {
			t.Fatalf("%q: partial answer %+v", q, res.Shards)
		}
		return res
	}

	t.Run("match-all", func(t *testing.T) {
		// Every spelling runs as a match-all: every document, and no
		// statistics gathered, since nothing is scored by term.
		for _, q := range []string{"*", "*:*", "_all:*", "**"} {
			for _, size := range []int{0, 10} {
				res := search(q, size)
				if res.TotalHits != uint64(len(ops)) {
					t.Errorf("%q size %d: total_hits %d, want %d", q, size, res.TotalHits, len(ops))
				}
				if res.Profile == nil || res.Profile.Phases.StatsCache != "none" {
					t.Errorf("%q size %d: profile %+v, want a search without statistics (stats_cache none)", q, size, res.Profile)
				}
				if len(res.Hits) != size {
					t.Errorf("%q size %d: %d hits", q, size, len(res.Hits))
				}
			}
		}
	})

	t.Run("stream of 330", func(t *testing.T) {
		qs := []string{"*", "a*", "s*", "th*~1", "wat*", "*ing", "b?r*", "title:*", "pos:*", "light~2", "r*"}
		base := heapBytes()
		peak := base
		for i := 0; i < 330; i++ {
			q := qs[i%len(qs)]
			if i%len(qs) == 0 && i > 0 {
				q = fmt.Sprintf("%c*", 'a'+rune(i/len(qs))%26) // prefixes of every letter
			}
			search(q, 10)
			if i%33 == 32 {
				peak = max(peak, heapBytes())
			}
		}
		grew := int64(peak) - int64(base)
		t.Logf("live heap: %d MB before, peak %d MB after 330 broad queries (grew %d MB)", base>>20, peak>>20, grew>>20)
		if grew > broadHeapBound {
			t.Fatalf("live heap grew by %d MB over 330 broad queries, bound %d MB", grew>>20, broadHeapBound>>20)
		}
	})
}
