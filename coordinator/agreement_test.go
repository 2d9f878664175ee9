package coordinator_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// sharedCorpus finds ../shared/corpus above the module root, or
// $SHOAL_CORPUS_DIR.
func sharedCorpus(t *testing.T) string {
	if d := os.Getenv("SHOAL_CORPUS_DIR"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for dir != "/" {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "corpus")
			if _, err := os.Stat(filepath.Join(p, "gcide.jsonl.gz")); err == nil {
				return p
			}
			break
		}
		dir = filepath.Dir(dir)
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the shared corpus (../shared/corpus) is missing in CI")
	}
	t.Skip("no shared corpus; set SHOAL_CORPUS_DIR")
	return ""
}

func readDocs(t *testing.T, path string, n int) []indexer.Op {
	f, err := corpus.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := corpus.NewReader(f, corpus.ReaderOptions{})
	var ops []indexer.Op
	for len(ops) < n {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.Err != nil {
			continue
		}
		ops = append(ops, indexer.Op{Line: d.Line, ID: d.ID, Doc: d.Body})
	}
	return ops
}

func readLines(t *testing.T, path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

func load(t *testing.T, ctx context.Context, c *cluster.Cluster, index string, shards int, ops []indexer.Op) {
	t.Helper()
	if _, err := c.Frontend.Catalog.CreateIndex(ctx, meta.IndexDef{Name: index, Shards: shards, Replicas: 1, Facets: nil}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(ops); i += 2000 {
		pending := ops[i:min(i+2000, len(ops))]
		// Documents that failed retryably are sent again, as `shoal index`
		// does: under the race detector, beside other test binaries on two
		// cores, the broker may confirm part of a batch after the write
		// timeout. Any other failure ends the test.
		testwait.For(t, 5*time.Minute, 100*time.Millisecond, func() error {
			res, err := c.Frontend.Indexer.Write(ctx, index, pending)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := c.Frontend.Indexer.WaitSearchable(ctx, index, res); err != nil {
				t.Fatal(err)
			}
			failed := map[string]bool{}
			for _, e := range res.Errors {
				if !e.Retryable {
					t.Fatalf("write: %+v", e)
				}
				failed[e.ID] = true
			}
			var again []indexer.Op // a new slice: pending shares ops' array
			for _, op := range pending {
				if failed[op.ID] {
					again = append(again, op)
				}
			}
			pending = again
			if len(pending) > 0 {
				return fmt.Errorf("%d documents not written, the first: %+v", len(pending), res.Errors[0])
			}
			return nil
		})
	}
}

// sameTopK reports whether two rankings agree on their first k hits up to
// ties: scores match rank by rank, and the ids scoring above the k-th
// score are the same set.
func sameTopK(a, b []coordinator.Hit, k int) bool {
	if len(a) != len(b) {
		if len(a) < k || len(b) < k {
			return false
		}
	}
	k = min(k, len(a))
	if k == 0 {
		return true
	}
	eq := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) }
	for i := 0; i < k; i++ {
		if !eq(a[i].Score, b[i].Score) {
			return false
		}
	}
	cut := a[k-1].Score
	above := func(h []coordinator.Hit) []string {
		var ids []string
		for _, x := range h[:k] {
			if x.Score > cut && !eq(x.Score, cut) {
				ids = append(ids, x.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}
	x, y := above(a), above(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// TestEightShardsRankLikeOne checks that global BM25 statistics make an
// 8-shard index return the same top-10 as a 1-shard index of the same
// documents, for real text and real queries.
func TestEightShardsRankLikeOne(t *testing.T) {
	dir := sharedCorpus(t)
	ndocs, nq := 12000, 250
	ops := readDocs(t, filepath.Join(dir, "gcide.jsonl.gz"), ndocs)
	queries := readLines(t, filepath.Join(dir, "queries-gcide.txt"), nq)
	if len(ops) < 10000 || len(queries) < 200 {
		t.Fatalf("corpus too small: %d docs, %d queries", len(ops), len(queries))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{DataDir: t.TempDir(), NATSListen: "127.0.0.1:-1", Searchers: 4,
		Frontend: cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	load(t, ctx, c, "one", 1, ops)
	load(t, ctx, c, "eight", 8, ops)

	search := func(index string, req *bleve.SearchRequest) *coordinator.Response {
		t.Helper()
		// A long timeout: the first presearch of a cold shard builds its
		// term sets, which takes many seconds under the race detector on
		// two busy cores, and a presearch that times out leaves that
		// shard's statistics out of the scores.
		res, err := c.Frontend.Coordinator.Search(ctx, index, coordinator.Request{Search: req, Timeout: 2 * time.Minute})
		if err != nil {
			if res != nil {
				t.Fatalf("%s: %v (took %d ms; failures %+v)", index, err, res.TookMS, res.Shards.Failures)
			}
			t.Fatalf("%s: %v", index, err)
		}
		return res
	}

	t.Run("top10", func(t *testing.T) {
		agree := 0
		for _, q := range queries {
			r1 := search("one", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false))
			r8 := search("eight", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false))
			if r1.TotalHits != r8.TotalHits {
				t.Errorf("%q: total %d vs %d", q, r1.TotalHits, r8.TotalHits)
			}
			if sameTopK(r1.Hits, r8.Hits, 10) {
				agree++
			} else {
				t.Logf("disagree %q:\n one   %v\n eight %v", q, brief(r1.Hits), brief(r8.Hits))
			}
		}
		frac := float64(agree) / float64(len(queries))
		t.Logf("top-10 agreement 8 shards vs 1: %d/%d = %.4f", agree, len(queries), frac)
		if frac < 0.99 {
			t.Fatalf("agreement %.4f < 0.99", frac)
		}
	})

	// Multi-term queries run rewritten (match-all, exists, constant-score
	// prefix/wildcard/regexp, scored fuzzy): 8 shards must still rank as 1.
	t.Run("multi-term", func(t *testing.T) {
		qs := []string{"*", "*:*", "title:*", "pos:*", "domains:*", "a*", "th*", "wat*", "s*", "w?t*", "*ter", "/ri.er/",
			"water~1", "light~2", "th*~1", "river AND wat*", "+sound -s*", "title:a* body:water", "wat*^3 river"}
		for _, q := range multiTermQueries(queries) {
			qs = append(qs, q)
		}
		agree := 0
		for _, q := range qs {
			r1 := search("one", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false))
			r8 := search("eight", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false))
			if r1.TotalHits != r8.TotalHits {
				t.Errorf("%q: total %d vs %d", q, r1.TotalHits, r8.TotalHits)
			}
			if sameTopK(r1.Hits, r8.Hits, 10) {
				agree++
			} else {
				t.Logf("disagree %q:\n one   %v\n eight %v", q, brief(r1.Hits), brief(r8.Hits))
			}
		}
		t.Logf("multi-term top-10 agreement 8 shards vs 1: %d/%d", agree, len(qs))
		if agree != len(qs) {
			t.Fatalf("multi-term agreement %d/%d", agree, len(qs))
		}
	})

	t.Run("window-sort-facets-search_after", func(t *testing.T) {
		for _, q := range []string{"water", "light", "a", "sound river"} {
			// from/size windows by score.
			for _, w := range [][2]int{{0, 5}, {5, 10}, {17, 9}} {
				r1 := search("one", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), w[1], w[0], false))
				r8 := search("eight", bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), w[1], w[0], false))
				if !sameTopK(r1.Hits, r8.Hits, len(r1.Hits)) && !sameScores(r1.Hits, r8.Hits) {
					t.Errorf("%q window %v differs:\n%v\n%v", q, w, brief(r1.Hits), brief(r8.Hits))
				}
			}
			// Field sort with an id tie-break is a total order: identical.
			mk := func() *bleve.SearchRequest {
				r := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 15, 3, false)
				r.SortBy([]string{"-length", "_id"})
				r.AddFacet("pos", bleve.NewFacetRequest("pos", 5))
				lo, hi := 0.0, 200.0
				f := bleve.NewFacetRequest("length", 3)
				f.AddNumericRange("short", &lo, &hi)
				f.AddNumericRange("long", &hi, nil)
				r.AddFacet("length", f)
				return r
			}
			r1, r8 := search("one", mk()), search("eight", mk())
			if ids(r1.Hits) != ids(r8.Hits) {
				t.Errorf("%q sorted by -length,_id differs:\n%v\n%v", q, ids(r1.Hits), ids(r8.Hits))
			}
			if !sameFacets(r1.Facets, r8.Facets) {
				t.Errorf("%q facets differ:\n%+v\n%+v", q, r1.Facets["pos"].Terms, r8.Facets["pos"].Terms)
			}
			// search_after the 5th hit continues identically.
			if len(r1.Hits) >= 5 {
				next := func(index string) *coordinator.Response {
					r := mk()
					r.From = 0
					r.SearchAfter = r1.Hits[4].Sort
					return search(index, r)
				}
				a1, a8 := next("one"), next("eight")
				if ids(a1.Hits) != ids(a8.Hits) || len(a1.Hits) == 0 {
					t.Errorf("%q search_after differs:\n%v\n%v", q, ids(a1.Hits), ids(a8.Hits))
				}
			}
		}
	})
}

func sameScores(a, b []coordinator.Hit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i].Score-b[i].Score) > 1e-9*math.Max(1, a[i].Score) {
			return false
		}
	}
	return true
}

func sameFacets(a, b search.FacetResults) bool {
	if len(a) != len(b) {
		return false
	}
	for name, fa := range a {
		fb := b[name]
		if fb == nil || fa.Total != fb.Total || fa.Missing != fb.Missing || fa.Other != fb.Other {
			return false
		}
		ta, tb := fa.Terms.Terms(), fb.Terms.Terms()
		if len(ta) != len(tb) {
			return false
		}
		for i := range ta {
			if ta[i].Term != tb[i].Term || ta[i].Count != tb[i].Count {
				return false
			}
		}
		if len(fa.NumericRanges) != len(fb.NumericRanges) {
			return false
		}
		for i := range fa.NumericRanges {
			if fa.NumericRanges[i].Name != fb.NumericRanges[i].Name || fa.NumericRanges[i].Count != fb.NumericRanges[i].Count {
				return false
			}
		}
	}
	return true
}

func ids(h []coordinator.Hit) string {
	s := ""
	for _, x := range h {
		s += x.ID + " "
	}
	return s
}

func brief(h []coordinator.Hit) []string {
	var out []string
	for _, x := range h {
		out = append(out, x.ID[len(x.ID)-4:]+":"+trim(x.Score))
	}
	return out
}

func trim(f float64) string {
	return time.Duration(f * 1e6).String()
}

// multiTermQueries derives prefix, wildcard and fuzzy queries from the
// words of the first real queries.
func multiTermQueries(queries []string) []string {
	var out []string
	for i, q := range queries {
		if len(out) >= 60 {
			break
		}
		for _, w := range strings.Fields(q) {
			w = strings.Trim(w, `"+-*~0123456789`)
			if len(w) < 4 || strings.ContainsAny(w, ":()[]{}^/\\") {
				continue
			}
			switch i % 3 {
			case 0:
				out = append(out, w[:3]+"*")
			case 1:
				out = append(out, w[:1]+"?"+w[2:4]+"*")
			default:
				out = append(out, w+"~1")
			}
			break
		}
	}
	return out
}
