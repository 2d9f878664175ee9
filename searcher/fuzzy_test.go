package searcher

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// defaultMapping is the mapping of an index created without one.
func defaultMapping(t *testing.T) *mapping.IndexMappingImpl {
	t.Helper()
	m, err := meta.BuildMapping(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFuzzyMatchesScorch: fuzzy queries through the node's cached
// automata find the same documents with the same scores as Bleve's own
// scorch, over several segments, with prefixes and both edit distances,
// and an automaton is built once for the shards that share it.
func TestFuzzyMatchesScorch(t *testing.T) {
	m := defaultMapping(t)
	dir := t.TempDir()
	ref, err := bleve.New(filepath.Join(dir, "ref"), m)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	cache := newAutomata(DefaultAutomataBytes)
	sh, err := OpenShard(filepath.Join(dir, "shard"), m, ShardOptions{Automata: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	words := []string{"river", "rivers", "riverbank", "rover", "liver", "giver", "water", "waiter", "wafer", "über", "uber", "ubers", "bank", "banks", "blank"}
	for batch := 0; batch < 3; batch++ { // one segment each
		var ws []Write
		b := ref.NewBatch()
		for i := 0; i < 40; i++ {
			n := batch*40 + i
			body := fmt.Sprintf("%s %s %s", words[n%len(words)], words[(n*7)%len(words)], words[(n/3)%len(words)])
			doc, _ := json.Marshal(map[string]any{"body": body})
			id := fmt.Sprint("d", n)
			ws = append(ws, Write{Seq: uint64(n + 1), Op: protocol.OpPut, ID: id, Doc: doc})
			if err := b.Index(id, map[string]any{"body": body}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sh.Apply(t.Context(), ws); err != nil {
			t.Fatal(err)
		}
		if err := ref.Batch(b); err != nil {
			t.Fatal(err)
		}
	}
	fuzzy := func(term string, fuzziness, prefix int) query.Query {
		q := query.NewFuzzyQuery(term)
		q.SetFuzziness(fuzziness)
		q.SetPrefix(prefix)
		q.SetField("body")
		return q
	}
	tests := []struct {
		name string
		q    query.Query
	}{
		{"distance 1", fuzzy("river", 1, 0)},
		{"distance 2", fuzzy("river", 2, 0)},
		{"prefix", fuzzy("river", 2, 1)},
		{"non-ASCII", fuzzy("ubar", 1, 0)},
		{"no match", fuzzy("zzzzzz", 1, 0)},
		{"query string", query.NewQueryStringQuery("body:watr~1 banc~2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := ref.Search(bleve.NewSearchRequestOptions(tt.q, 200, 0, false))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second time from the cache
				got, err := sh.Search(context.Background(), bleve.NewSearchRequestOptions(tt.q, 200, 0, false), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got.Total != want.Total || len(got.Hits) != len(want.Hits) {
					t.Fatalf("%d hits (total %d), scorch %d (total %d)", len(got.Hits), got.Total, len(want.Hits), want.Total)
				}
				scores := map[string]float64{} // ties may come in another order
				for _, h := range want.Hits {
					scores[h.ID] = h.Score
				}
				for _, h := range got.Hits {
					if s, ok := scores[h.ID]; !ok || s != h.Score {
						t.Fatalf("hit %s scores %v, in scorch %v (found %v)", h.ID, h.Score, s, ok)
					}
				}
			}
		})
	}
	if n := cache.entries.Stats().Entries; n != 6 {
		t.Errorf("%d automata cached, want 6 (one per fuzzy term)", n)
	}
}

// TestFuzzyExpansionsFollowSnapshots: the terms a fuzzy query's presearch
// found on a shard's snapshot are read back by its search on the same
// snapshot, and a write (a new snapshot) is seen by the next expansion.
func TestFuzzyExpansionsFollowSnapshots(t *testing.T) {
	sh, err := OpenShard(filepath.Join(t.TempDir(), "shard"), defaultMapping(t), ShardOptions{Automata: newAutomata(DefaultAutomataBytes)})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	seq := uint64(0)
	put := func(id, body string) {
		t.Helper()
		seq++
		doc, _ := json.Marshal(map[string]any{"body": body})
		if _, err := sh.Apply(t.Context(), []Write{{Seq: seq, Op: protocol.OpPut, ID: id, Doc: doc}}); err != nil {
			t.Fatal(err)
		}
	}
	adv, err := sh.idx.Advanced()
	if err != nil {
		t.Fatal(err)
	}
	kept := func() int {
		e := adv.(*statsIndex).expanded.cur.Load()
		if e == nil {
			return 0
		}
		return e.lists.Stats().Entries
	}
	put("a", "river")
	put("b", "liver")
	q := query.NewFuzzyQuery("rivet")
	q.SetField("body")
	tests := []struct {
		name  string
		write func()
		want  []string
	}{
		{"first snapshot", func() {}, []string{"a"}},
		{"same snapshot again", func() {}, []string{"a"}},
		{"after a write", func() { put("c", "rivets") }, []string{"a", "c"}},
		{"after a delete", func() {
			seq++
			if _, err := sh.Apply(t.Context(), []Write{{Seq: seq, Op: protocol.OpDelete, ID: "a"}}); err != nil {
				t.Fatal(err)
			}
		}, []string{"c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.write()
			if _, err := sh.Presearch(t.Context(), q, nil, nil, 1000); err != nil {
				t.Fatal(err)
			}
			if n := kept(); n != 1 {
				t.Fatalf("%d expansions kept after the presearch, want 1", n)
			}
			res, err := sh.Search(t.Context(), bleve.NewSearchRequestOptions(q, 10, 0, false), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range res.Hits {
				got = append(got, h.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("hits %v, want %v", got, tt.want)
			}
			if n := kept(); n != 1 {
				t.Errorf("%d expansions kept after the search, want 1 (the presearch's)", n)
			}
		})
	}
}
