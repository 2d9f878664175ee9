package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the whole benchmark on a tiny slice of the sample
// corpus and checks that every figure of the JSON report is there and sane.
func TestRunSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	res, err := Run(ctx, Options{
		Docs: 300, NumQueries: 20, Shards: 2, Clients: 3,
		Duration: 300 * time.Millisecond, SlowDelay: 50 * time.Millisecond,
		DataDir: t.TempDir(), Progress: &progress,
	})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log(table.String())

	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	num := func(key string) float64 {
		t.Helper()
		v, ok := m[key].(float64)
		if !ok {
			t.Errorf("key %q: %v (%T), want a number", key, m[key], m[key])
		}
		return v
	}
	if got := num("docs"); got != 300 {
		t.Errorf("docs = %v, want 300", got)
	}
	if got := num("queries"); got != 20 {
		t.Errorf("queries = %v, want 20", got)
	}
	if got := num("shards"); got != 2 {
		t.Errorf("shards = %v, want 2", got)
	}
	positive := []string{
		"index_docs_per_s_bleve", "index_docs_per_s_shoal", "index_ratio",
		"qps_ratio", "p99_ratio",
		"p99_ms_slow_replica_nohedge", "p99_ms_slow_replica_hedge",
	}
	for _, e := range []string{"bleve", "alias", "shoal", "http"} {
		for _, sfx := range []string{"", "_1c"} {
			positive = append(positive, "query_qps_"+e+sfx, "p50_ms_"+e+sfx, "p99_ms_"+e+sfx)
		}
	}
	positive = append(positive, "qps_ratio_repeat", "p99_ratio_repeat", "query_qps_shoal_repeat", "query_qps_alias_repeat")
	// The statistics cache's hit rate of each Shoal phase, from the
	// coordinator's metrics.
	for _, key := range []string{"stats_hit_rate_shoal", "stats_hit_rate_http_1c", "stats_hit_rate_shoal_repeat", "stats_hit_rate_agreement"} {
		if v := num(key); v < 0 || v > 1 {
			t.Errorf("%s = %v, want within [0, 1]", key, v)
		}
	}
	if v := num("stats_hit_rate_shoal_repeat"); v != 1 {
		t.Errorf("stats_hit_rate_shoal_repeat = %v: warm, the repeat phase needs no presearch", v)
	}
	if got := num("reference_segments"); got != 1 {
		t.Errorf("reference_segments = %v, want 1", got)
	}
	for _, key := range positive {
		if v := num(key); !(v > 0) {
			t.Errorf("%s = %v, want > 0", key, v)
		}
	}
	for _, e := range []string{"bleve", "alias", "shoal", "http", "bleve_1c", "shoal_1c", "slow_replica_hedge"} {
		if p50, p99 := num("p50_ms_"+e), num("p99_ms_"+e); p99 < p50 {
			t.Errorf("%s: p99 %v < p50 %v", e, p99, p50)
		}
		if errs := num("errors_" + e); errs != 0 {
			t.Errorf("%s: %v failed queries", e, errs)
		}
	}
	for _, key := range []string{"top10_agreement", "top10_agreement_alias"} {
		if v := num(key); v < 0 || v > 1 {
			t.Errorf("%s = %v, want within [0, 1]", key, v)
		}
	}
	if v := num("hedge_extra_requests_pct"); v < 0 || v > 100 {
		t.Errorf("hedge_extra_requests_pct = %v, want within [0, 100]", v)
	}
	// With no HedgeAfter the tail runs Shoal's default: adaptive hedging.
	if mode := m["hedge_mode"]; mode != "adaptive" {
		t.Errorf("hedge_mode = %v, want adaptive", mode)
	}
	// The slow copy answers 50ms late: the default coordinator hedges
	// requests to it (until its latency estimate steers requests away).
	// (The 5% budget is TestAttemptsBudget's; phases this short share
	// their budget window with the phase before.)
	if hedges := num("hedges"); hedges == 0 {
		t.Error("no hedges with a copy 50ms slow: hedging is not on by default")
	}
	if len(res.Broad) != 3 {
		t.Errorf("broad phases: %d, want bleve, alias and shoal", len(res.Broad))
	}
	for _, p := range res.Broad {
		if p.QPS <= 0 || p.Errors != 0 || p.PeakRSSMB <= 0 {
			t.Errorf("broad phase %s: %.1f q/s, %d errors (%s), peak RSS %.0f MB", p.Name, p.QPS, p.Errors, p.FirstError, p.PeakRSSMB)
		}
	}
	if _, ok := m["targets_missed"].([]any); !ok {
		t.Errorf("targets_missed = %v, want a list", m["targets_missed"])
	}
}

func TestSameTop(t *testing.T) {
	h := func(id string, s float64) hit { return hit{id: id, score: s} }
	ref := []hit{h("a", 5), h("b", 4), h("c", 4), h("d", 3), h("e", 2), h("f", 2), h("g", 2), h("h", 1)}
	tests := []struct {
		name string
		ref  []hit
		got  []hit
		k    int
		want bool
	}{
		{"equal", ref, []hit{h("a", 5), h("b", 4), h("c", 4), h("d", 3)}, 4, true},
		{"tie reordered", ref, []hit{h("a", 5), h("c", 4), h("b", 4), h("d", 3)}, 4, true},
		{"other id", ref, []hit{h("a", 5), h("b", 4), h("c", 4), h("x", 3)}, 4, false},
		{"tie member out of place", ref, []hit{h("b", 4), h("a", 5), h("c", 4), h("d", 3)}, 4, false},
		{"tie across the cut, other member", ref, []hit{h("a", 5), h("b", 4), h("c", 4), h("d", 3), h("g", 2)}, 5, true},
		{"tie across the cut, outsider", ref, []hit{h("a", 5), h("b", 4), h("c", 4), h("d", 3), h("h", 1)}, 5, false},
		{"scores are not compared", ref, []hit{h("a", 9), h("b", 1), h("c", 1), h("d", 1)}, 4, true},
		{"fewer hits", ref, []hit{h("a", 5), h("b", 4)}, 4, false},
		{"short reference", ref[:2], []hit{h("a", 5), h("b", 4)}, 10, true},
		{"empty", nil, []hit{}, 10, true},
		{"score rounding", []hit{h("a", 1.0000000000001), h("b", 1), h("c", 0.5)}, []hit{h("b", 1), h("a", 1)}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameTop(tt.ref, tt.got, tt.k); got != tt.want {
				t.Errorf("sameTop = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeriveQueriesDeterministic(t *testing.T) {
	docs, err := loadDocs("", 500)
	if err != nil {
		t.Fatal(err)
	}
	a, b := deriveQueries(docs, 100), deriveQueries(docs, 100)
	if len(a) != 100 {
		t.Fatalf("derived %d queries, want 100", len(a))
	}
	kinds := map[string]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("query %d differs between runs: %q vs %q", i, a[i], b[i])
		}
		switch q := a[i]; {
		case strings.HasPrefix(q, `"`):
			kinds["phrase"]++
		case strings.HasSuffix(q, "*"):
			kinds["prefix"]++
		case strings.HasSuffix(q, "~1"):
			kinds["fuzzy"]++
		case strings.Contains(q, " "):
			kinds["two"]++
		default:
			kinds["one"]++
		}
	}
	for _, k := range []string{"one", "two", "phrase", "prefix", "fuzzy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s queries among %v", k, kinds)
		}
	}
}

func TestSplitQueriesAndSources(t *testing.T) {
	var qs []string
	for i := range 40 {
		qs = append(qs, fmt.Sprint("q", i%30)) // 30 distinct
	}
	sets := splitQueries(qs, 200, 1000)
	if len(sets.repeat) != 7 || len(sets.agreement) != 7 || len(sets.timed) != 16 {
		t.Fatalf("split %d/%d/%d, want 7/7/16 of 30 distinct", len(sets.repeat), len(sets.agreement), len(sets.timed))
	}
	seen := map[string]bool{}
	for _, part := range [][]string{sets.repeat, sets.agreement, sets.timed} {
		for _, q := range part {
			if seen[q] {
				t.Fatalf("%q in two parts, or twice", q)
			}
			seen[q] = true
		}
	}
	if s := splitQueries(qs, -1, 3); len(s.repeat) != 0 || len(s.agreement) != 3 {
		t.Errorf("no repeat phase: %d/%d", len(s.repeat), len(s.agreement))
	}
	// One source shared by several clients hands out each query once,
	// then counts the ones it hands out again.
	src := newSource(sets.timed)
	got := map[string]int{}
	repeated := 0
	for range 20 {
		q, again := src.take()
		got[q]++
		if again {
			repeated++
		}
	}
	if len(got) != 16 || repeated != 4 {
		t.Errorf("%d distinct queries handed out, %d repeated; want 16 and 4", len(got), repeated)
	}
}
