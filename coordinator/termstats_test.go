package coordinator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/searcher"
)

// synthDoc is a document of made-up words: a Zipf-like draw from a
// vocabulary, so that some words are in most documents and most in few.
func synthDoc(rng *rand.Rand, vocab int) map[string]any {
	word := func() string { return fmt.Sprintf("w%d", int(math.Pow(float64(vocab), rng.Float64()))) }
	var body []string
	for range 3 + rng.IntN(25) {
		body = append(body, word())
	}
	return map[string]any{"title": word() + " " + word(), "body": strings.Join(body, " ")}
}

// reference is one plain Bleve index holding the same documents as a
// Shoal index, with the same mapping, merged into one segment after every
// change: what Shoal's scores must equal.
type reference struct {
	t   *testing.T
	idx bleve.Index
}

func newReference(t *testing.T) *reference {
	m, err := meta.BuildMapping(nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := bleve.New(filepath.Join(t.TempDir(), "ref"), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	return &reference{t: t, idx: idx}
}

// apply indexes docs (nil: a delete) and merges the index into one segment.
func (r *reference) apply(docs map[string]map[string]any) {
	b := r.idx.NewBatch()
	for id, d := range docs {
		if d == nil {
			b.Delete(id)
		} else if err := b.Index(id, d); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.idx.Batch(b); err != nil {
		r.t.Fatal(err)
	}
	if err := searcher.MergeIntoOne(context.Background(), r.idx, 20); err != nil {
		r.t.Fatalf("the reference index: %v", err)
	}
}

// scores are every matching document's score in the reference.
func (r *reference) scores(q string) map[string]float64 {
	res, err := r.idx.Search(bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 100000, 0, false))
	if err != nil {
		r.t.Fatal(err)
	}
	out := make(map[string]float64, len(res.Hits))
	for _, h := range res.Hits {
		out[h.ID] = h.Score
	}
	return out
}

// cacheLookups reads shoal_stats_cache_requests_total{result} from reg.
func cacheLookups(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "shoal_stats_cache_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// termsCluster starts a cluster with an 8-shard index "terms" of n
// made-up documents, and a reference index of the same documents.
func termsCluster(t *testing.T, n int) (*cluster.Cluster, *prometheus.Registry, *client.Client, *reference, map[string]map[string]any) {
	reg := cluster.NewRegistry()
	c := testcluster.Start(t, 2, func(o *cluster.Options) { o.Metrics = reg })
	cl := client.New(c.URL())
	ctx := context.Background()
	if err := cl.CreateIndex(ctx, "terms", client.IndexSettings{Shards: 8, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	docs := map[string]map[string]any{}
	var body strings.Builder
	for i := range n {
		id := fmt.Sprintf("d%04d", i)
		docs[id] = synthDoc(rng, 3000)
		docs[id]["id"] = id // a bulk line's id stays in the document
		line, _ := json.Marshal(docs[id])
		body.Write(append(line, '\n'))
	}
	if res, err := cl.Bulk(ctx, "terms", []byte(body.String()), true); err != nil || res.Failed > 0 {
		t.Fatalf("bulk: %v %+v", err, res)
	}
	ref := newReference(t)
	ref.apply(docs)
	return c, reg, cl, ref, docs
}

// TestStatisticsWithoutARoundTrip checks that a new query made of terms
// the coordinator knows is scored with no presearch round (counted by the
// statistics cache's metric and the search's profile), that its scores
// are exactly those of one merged Bleve index, and that after a write
// (refresh=wait_for), an update and a delete, the next search counts them
// — again exactly.
func TestStatisticsWithoutARoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, reg, cl, ref, _ := termsCluster(t, 1500)
	coord := c.Frontend.Coordinator
	check := func(t *testing.T, q, wantCache string) {
		t.Helper()
		req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 30, 0, false)
		res, err := coord.Search(ctx, "terms", coordinator.Request{Search: req, Profile: true})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got := res.Profile.Phases.StatsCache; wantCache != "" && got != wantCache {
			t.Errorf("%q: statistics %s, want %s", q, got, wantCache)
		}
		want := ref.scores(q)
		if res.TotalHits != uint64(len(want)) {
			t.Errorf("%q: %d hits, the reference %d", q, res.TotalHits, len(want))
		}
		for _, h := range res.Hits {
			if w, ok := want[h.ID]; !ok || math.Abs(h.Score-w) > 1e-9*math.Max(1, w) {
				t.Errorf("%q: %s scores %v, in the reference %v", q, h.ID, h.Score, w)
			}
		}
	}
	check(t, "w1", "miss") // the shards' tables of _all are read once
	misses := cacheLookups(t, reg, "miss")
	t.Run("new queries of known terms", func(t *testing.T) {
		for _, q := range []string{"w2", "w7 w19", `"w1 w3"`, "+w4 -w5", "w2999 w1000", "nosuchword", "w11 w12 w13 w14", "w1^3 w2"} {
			check(t, q, "hit")
		}
		if got := cacheLookups(t, reg, "miss"); got != misses {
			t.Errorf("%v presearch rounds for queries of known terms, want none", got-misses)
		}
		if hits := cacheLookups(t, reg, "hit"); hits < 8 {
			t.Errorf("%v statistics cache hits, want at least 8", hits)
		}
	})
	t.Run("a field read first", func(t *testing.T) {
		check(t, "title:w3", "miss")
		check(t, "title:w8 body:w2", "")
		check(t, "title:w9 w3", "hit")
	})
	t.Run("caches within their bounds", func(t *testing.T) {
		checkBounds(ctx, t, c, coord.CacheStats()["term_sets"].Bytes)
	})
	t.Run("writes counted at once", func(t *testing.T) {
		put := func(id string, doc map[string]any) {
			if _, err := cl.PutDoc(ctx, "terms", id, doc, true); err != nil {
				t.Fatal(err)
			}
			doc["id"] = id // as the API stores it
		}
		// A new document with common words and a new one.
		doc := map[string]any{"title": "w1 zqxnew", "body": "w1 w2 w3 w1 zqxnew"}
		put("new1", doc)
		ref.apply(map[string]map[string]any{"new1": doc})
		check(t, "w1 w2", "miss") // the shard written is read again, alone
		check(t, "zqxnew w3", "hit")
		// An update: the old version's terms leave, the new ones come.
		upd := map[string]any{"title": "w5", "body": "w5 w6 zqxother"}
		put("d0001", upd)
		ref.apply(map[string]map[string]any{"d0001": upd})
		check(t, "w5 w6 zqxother", "miss")
		check(t, "w1 w2 w3", "hit")
		// A delete.
		if _, err := cl.DeleteDoc(ctx, "terms", "new1", true); err != nil {
			t.Fatal(err)
		}
		ref.apply(map[string]map[string]any{"new1": nil})
		check(t, "zqxnew w1", "miss")
		check(t, "title:w1", "")
	})
}

// checkBounds runs queries of every kind on a coordinator whose caches are
// bounded well below what they would hold (held: the bytes of term tables
// a coordinator holds for the queries), and checks that they stay within
// their bounds, evicting.
func checkBounds(ctx context.Context, t *testing.T, c *cluster.Cluster, held int64) {
	nc, err := c.Connect(ctx, "bounded", broker.RoleCoordinator, "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	opts := coordinator.Options{TermSetBytes: held * 3 / 4, StatsCacheBytes: 4 << 10}
	co := coordinator.New(nc, c.Frontend.Catalog, opts)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		w := func() int { return 1 + rng.IntN(2999) }
		q := []string{fmt.Sprintf("w%d w%d", w(), w()), fmt.Sprintf("title:w%d", w()), fmt.Sprintf("body:w%d~1", w()),
			fmt.Sprintf("w%d~1 title:w%d", w(), w())}[i%4]
		req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false)
		if _, err := co.Search(ctx, "terms", coordinator.Request{Search: req}); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		for name, st := range co.CacheStats() {
			if st.Bytes > st.MaxBytes {
				t.Fatalf("after %d queries the %s cache holds %d bytes, bound %d", i+1, name, st.Bytes, st.MaxBytes)
			}
		}
	}
	st := co.CacheStats()
	t.Logf("caches: %+v", st)
	if st["stats"].Evictions == 0 {
		t.Errorf("150 fuzzy queries in a statistics cache of 4 KiB evicted nothing: %+v", st["stats"])
	}
}
