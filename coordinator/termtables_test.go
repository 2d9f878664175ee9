package coordinator

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// randomTable is a table of n terms, a third of them from common (shared
// with other shards), with counts from 1 to 50.
func randomTable(rng *rand.Rand, common []uint64, n int) map[uint64]uint32 {
	m := map[uint64]uint32{}
	for len(m) < n {
		h := rng.Uint64()
		if rng.IntN(3) == 0 {
			h = common[rng.IntN(len(common))]
		}
		m[h] = uint32(1 + rng.IntN(50))
	}
	return m
}

func encodeTable(t *testing.T, m map[uint64]uint32) []byte {
	t.Helper()
	tt := &protocol.TermTable{}
	for h := range m {
		tt.Hashes = append(tt.Hashes, h)
	}
	slices.Sort(tt.Hashes)
	for _, h := range tt.Hashes {
		tt.Counts = append(tt.Counts, m[h])
	}
	raw, err := tt.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestTermTablesMergeAndBound stores shards' tables and checks the
// merged table against a brute-force union, the generations' bookkeeping,
// and that the store never holds more bytes than its bound, evicting and
// merging again as needed.
func TestTermTablesMergeAndBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	common := make([]uint64, 3000)
	for i := range common {
		common[i] = rng.Uint64()
	}
	const shards = 4
	want := map[string]map[uint64]uint32{}
	raws := map[string][][]byte{}
	for _, f := range []string{"_all", "title", "body"} {
		want[f] = map[uint64]uint32{}
		for range shards {
			m := randomTable(rng, common, 2000)
			for h, c := range m {
				want[f][h] += c
			}
			raws[f] = append(raws[f], encodeTable(t, m))
		}
	}
	// One field's shard tables take about 4×(12×2000+128) ≈ 97 KB, and
	// its merged table about 60 KB: a bound of 400 KB holds two fields,
	// not three.
	const bound = 400 << 10
	tt := newTermTables(bound)
	vec := make([]uint64, shards)
	for round := range 3 {
		for _, f := range []string{"_all", "title", "body"} {
			for s := range shards {
				pr := &protocol.PresearchResponse{AppliedSeq: 7, Stats: protocol.GlobalStats{DocCount: 10}, Tables: map[string][]byte{f: raws[f][s]}}
				if tt.table("uid", s, f, 7) != nil {
					pr.Tables = nil // held: a shard does not send it again
				}
				if err := tt.store("uid", shards, s, pr, []string{f}, 5); err != nil {
					t.Fatal(err)
				}
				vec[s] = 7
			}
			got := tt.merge("uid", f, vec)
			if got == nil {
				t.Fatalf("round %d, %s: no merged table", round, f)
			}
			if got.Len() != len(want[f]) {
				t.Fatalf("round %d, %s: %d terms, want %d", round, f, got.Len(), len(want[f]))
			}
			for h, c := range want[f] {
				if n := got.Count(h); n != c {
					t.Fatalf("%s: count %d, want %d", f, n, c)
				}
			}
			if st := tt.tables.Stats(); st.Bytes > bound {
				t.Fatalf("the tables hold %d bytes, bound %d", st.Bytes, bound)
			}
		}
	}
	if st := tt.tables.Stats(); st.Evictions == 0 {
		t.Errorf("three fields in a bound for two evicted nothing: %+v", st)
	}
	gens := tt.generations("uid", shards)
	if g := gens[1]; !g.ok || g.seq != 7 || g.docs != 10 || g.checked != 7 {
		t.Errorf("generation %+v", g)
	}
	// An older snapshot does not replace newer figures.
	_ = tt.store("uid", shards, 1, &protocol.PresearchResponse{AppliedSeq: 3, Stats: protocol.GlobalStats{DocCount: 99}}, nil, 0)
	if g := tt.generations("uid", shards)[1]; g.seq != 7 || g.docs != 10 {
		t.Errorf("an older answer replaced the figures: %+v", g)
	}
	// A merge over a shard whose table is not held is not made.
	vec[2] = 8
	if tt.merge("uid", "_all", vec) != nil {
		t.Error("merged a table of a generation never stored")
	}
	// A field whose tables cannot fit is marked too large, not stored.
	small := newTermTables(64 << 10)
	pr := &protocol.PresearchResponse{AppliedSeq: 1, Tables: map[string][]byte{"_all": raws["_all"][0]}}
	if err := small.store("uid", shards, 0, pr, []string{"_all"}, 0); err != nil {
		t.Fatal(err)
	}
	if !small.anyTooLarge("uid", []string{"title", "_all"}) || small.table("uid", 0, "_all", 1) != nil {
		t.Error("a field of 4×24 KB of tables in a bound of 64 KB must be too large")
	}
}

// TestProbeFindsTheTermsAShardScores checks the probe against a shard's
// own recording: for queries whose terms do not depend on the index, it
// finds them; for the others it declines.
func TestProbeFindsTheTermsAShardScores(t *testing.T) {
	p, err := newTermProbe()
	if err != nil {
		t.Fatal(err)
	}
	def := &meta.IndexDef{Name: "x", UID: "u1", Shards: 1}
	for _, tc := range []struct {
		q      string
		ok     bool
		terms  []string // field:term
		fields []string
	}{
		{q: "water", ok: true, terms: []string{"_all:water"}, fields: []string{"_all"}},
		{q: "Rivers of light", ok: true, terms: []string{"_all:rivers", "_all:light"}, fields: []string{"_all"}}, // "of": a stop word
		{q: `"sound wave" title:bank -stone`, ok: true, terms: []string{"_all:sound", "_all:wave", "title:bank", "_all:stone"}, fields: []string{"_all", "title"}},
		{q: "wat* river", ok: true, terms: []string{"_all:river"}, fields: []string{"_all"}},
		{q: "water~1", ok: false},
		{q: "count:>5", ok: false},
		{q: "2000", ok: false}, // a number is also a numeric range
	} {
		rq, err := rewrite.Query(bquery.NewQueryStringQuery(tc.q), rewrite.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		qt, ok := p.terms(context.Background(), def, rq)
		if ok != tc.ok {
			t.Errorf("%q: probed %v, want %v", tc.q, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		var got []string
		for _, pt := range qt.terms {
			got = append(got, pt.field+":"+pt.term)
			if pt.hash != protocol.TermHash(pt.term) {
				t.Errorf("%q: hash of %q", tc.q, pt.term)
			}
		}
		slices.Sort(got)
		slices.Sort(tc.terms)
		if !slices.Equal(got, tc.terms) {
			t.Errorf("%q: terms %v, want %v", tc.q, got, tc.terms)
		}
		if !slices.Equal(qt.fields, tc.fields) {
			t.Errorf("%q: fields %v, want %v", tc.q, qt.fields, tc.fields)
		}
	}
}
