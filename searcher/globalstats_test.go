package searcher

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// TestGlobalStatsScoreLikeOneIndex splits documents over several shards and
// checks that, scored with the summed presearch statistics, every document
// gets exactly the score it gets in a single index holding them all.
func TestGlobalStatsScoreLikeOneIndex(t *testing.T) {
	m := defaultMapping(t)
	dir := t.TempDir()
	one, err := OpenShard(filepath.Join(dir, "one"), m, ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	const nShards = 3
	var parts [nShards]*Shard
	for i := range parts {
		if parts[i], err = OpenShard(filepath.Join(dir, fmt.Sprint(i)), m, ShardOptions{}); err != nil {
			t.Fatal(err)
		}
		defer parts[i].Close()
	}
	words := []string{"river", "rivers", "riverbank", "water", "stone", "light", "sound", "wave", "waves", "bank"}
	var all []Write
	split := make([][]Write, nShards)
	for i := 0; i < 300; i++ {
		body := ""
		for j := 0; j <= i%7; j++ {
			body += words[(i*7+j*3)%len(words)] + " "
		}
		doc, _ := json.Marshal(map[string]any{"id": fmt.Sprint("d", i), "title": words[i%len(words)], "body": body})
		w := Write{Seq: uint64(i + 1), Op: protocol.OpPut, ID: fmt.Sprint("d", i), Doc: doc}
		all = append(all, w)
		split[i%nShards] = append(split[i%nShards], w)
	}
	// A word held by one shard only, next to a query term no shard holds:
	// "slubber~1" must expand to "slobber" alone, as in one index.
	rare, _ := json.Marshal(map[string]any{"title": "slobber", "body": "river"})
	all = append(all, Write{Seq: 301, Op: protocol.OpPut, ID: "rare", Doc: rare})
	split[0] = append(split[0], all[len(all)-1])
	if _, err := one.Apply(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		if _, err := parts[i].Apply(t.Context(), split[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, qs := range []string{"river", "water stone", `"sound wave"`, "riv*", "rivr~1", "title:bank", "body:waves light", "+river -bank", "slubber~1", "slubber~2 river"} {
		t.Run(qs, func(t *testing.T) {
			q := query.NewQueryStringQuery(qs)
			want := scores(t, ctx, one, q, nil)
			total := &protocol.GlobalStats{}
			tables := map[string]*protocol.TermTable{}
			for _, p := range parts {
				st, err := p.Presearch(ctx, q, []string{"_all", "title", "body"}, nil, rewrite.DefaultMaxScoredTerms)
				if err != nil {
					t.Fatal(err)
				}
				total.Add(&st.Stats)
				for f, raw := range st.Tables {
					tt, err := protocol.DecodeTermTable(raw)
					if err != nil {
						t.Fatal(err)
					}
					if tables[f] == nil {
						tables[f] = tt
					} else {
						tables[f] = protocol.MergeTermTables(tables[f], tt)
					}
				}
			}
			// A field's cardinality is its number of distinct terms: the
			// size of the union of the shards' tables.
			for f := range total.Fields {
				if tables[f] == nil {
					t.Fatalf("no term table of field %s", f)
				}
				total.Fields[f] = tables[f].Len()
			}
			got := map[string]float64{}
			for _, p := range parts {
				for id, s := range scores(t, ctx, p, q, total) {
					got[id] = s
				}
			}
			if len(got) != len(want) {
				t.Fatalf("hits: %d vs %d", len(got), len(want))
			}
			for id, w := range want {
				if math.Abs(got[id]-w) > 1e-9 {
					t.Fatalf("%s: score %v, single index %v", id, got[id], w)
				}
			}
		})
	}
}

func scores(t *testing.T, ctx context.Context, s *Shard, q query.Query, st *protocol.GlobalStats) map[string]float64 {
	t.Helper()
	req := bleve.NewSearchRequestOptions(q, 1000, 0, false)
	res, err := s.Search(ctx, req, NewStats(st))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, h := range res.Hits {
		out[h.ID] = h.Score
	}
	return out
}

// TestPresearchCountsLikeTheTermReader: the document counts a presearch
// records are those of Bleve's own term reader, over several segments
// and with deleted and replaced documents left out.
func TestPresearchCountsLikeTheTermReader(t *testing.T) {
	sh, err := OpenShard(filepath.Join(t.TempDir(), "shard"), defaultMapping(t), ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	seq := uint64(0)
	apply := func(op, id, body string) {
		t.Helper()
		seq++
		w := Write{Seq: seq, Op: op, ID: id}
		if op == protocol.OpPut {
			w.Doc, _ = json.Marshal(map[string]any{"body": body})
		}
		if _, err := sh.Apply(t.Context(), []Write{w}); err != nil { // one segment each
			t.Fatal(err)
		}
	}
	words := []string{"river", "rivers", "liver", "giver", "rover"}
	for i := range 30 {
		apply(protocol.OpPut, fmt.Sprint("d", i), words[i%len(words)]+" "+words[(i*3)%len(words)])
	}
	apply(protocol.OpDelete, "d0", "")
	apply(protocol.OpDelete, "d7", "")
	apply(protocol.OpPut, "d1", "water") // replaced: rivers gone from it
	apply(protocol.OpPut, "d12", "river river")
	tests := []struct {
		name string
		q    query.Query
	}{
		{"fuzzy", query.NewQueryStringQuery("body:river~1")},
		{"fuzzy and terms", query.NewQueryStringQuery("body:liver~2 body:water body:nothing")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := rewrite.Query(tt.q, rewrite.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := sh.Presearch(t.Context(), q, nil, nil, rewrite.DefaultMaxScoredTerms)
			if err != nil {
				t.Fatal(err)
			}
			terms := resp.Stats.Terms["body"]
			if len(terms) < 2 {
				t.Fatalf("presearch recorded %v, want several terms", terms)
			}
			adv, err := sh.idx.Advanced()
			if err != nil {
				t.Fatal(err)
			}
			r, err := adv.Reader()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for term, got := range terms {
				tfr, err := r.TermFieldReader(t.Context(), []byte(term), "body", false, false, false)
				if err != nil {
					t.Fatal(err)
				}
				if want := tfr.Count(); got != want {
					t.Errorf("%q: presearch counted %d documents, the term reader %d", term, got, want)
				}
				tfr.Close()
			}
		})
	}
}
