package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Result is the outcome of a Run.
type Result struct {
	Corpus    string `json:"corpus"`
	Docs      int    `json:"docs"`
	Shards    int    `json:"shards"`
	Searchers int    `json:"searchers"`
	// Queries counts the distinct queries of the run, RepeatQueries those
	// of the repeat phase among them.
	Queries       int     `json:"queries"`
	RepeatQueries int     `json:"repeat_queries"`
	Clients       int     `json:"clients"`
	DurationS     float64 `json:"duration_s"`
	TurnS         float64 `json:"turn_s"`
	GOMAXPROCS    int     `json:"gomaxprocs"`

	// Indexing throughput, documents per second.
	IndexDocsPerSBleve   float64 `json:"index_docs_per_s_bleve"`
	IndexDocsPerSAlias   float64 `json:"index_docs_per_s_alias"`
	IndexDocsPerSShoal   float64 `json:"index_docs_per_s_shoal"`
	IndexDocsPerSShoalR2 float64 `json:"index_docs_per_s_shoal_r2"`
	// IndexRatio is shoal/bleve, the median of the rounds' IndexRatios
	// (the index rates above are the rounds' medians).
	IndexRatio  float64   `json:"index_ratio"`
	IndexRatios []float64 `json:"index_ratios"`

	// Phases are the timed query phases; their figures also appear flat
	// in the JSON as query_qps_<name>, p50_ms_<name>, p99_ms_<name>.
	Phases []Phase `json:"phases"`
	// QPSRatio is shoal/alias QPS and P99Ratio shoal/alias p99, with
	// Clients clients and queries that do not repeat; QPSRatioRepeat and
	// P99RatioRepeat the same in the repeat phase (warm caches).
	QPSRatio       float64 `json:"qps_ratio"`
	P99Ratio       float64 `json:"p99_ratio"`
	QPSRatioRepeat float64 `json:"qps_ratio_repeat"`
	P99RatioRepeat float64 `json:"p99_ratio_repeat"`

	// Top10Agreement is the fraction of queries whose top 10 from Shoal
	// equals the single Bleve index's, up to ties; Top10AgreementAlias the
	// same for the alias.
	Top10Agreement      float64 `json:"top10_agreement"`
	Top10AgreementAlias float64 `json:"top10_agreement_alias"`
	// ReferenceSegments is the single index's segment count when compared
	// (the run fails unless it is 1).
	ReferenceSegments uint64 `json:"reference_segments"`
	// AliasSegments and ShoalSegments are the segments the alias's shards
	// and Shoal's copies of the benchmark index hold when the query
	// phases start, all shards together: a query pays for each (Shoal's
	// searchers merge idle copies into one, see searcher/compact.go).
	AliasSegments    uint64 `json:"alias_segments"`
	ShoalSegments    uint64 `json:"shoal_segments"`
	AgreementQueries int    `json:"agreement_queries"`
	// AgreementStatsHitRate is the share of the agreement pass's
	// statistics lookups that needed no presearch round.
	AgreementStatsHitRate *float64 `json:"stats_hit_rate_agreement,omitempty"`

	// The tail measurement.
	TailSearchers int     `json:"tail_searchers"`
	TailQueries   int     `json:"tail_queries"`
	SlowCopies    int     `json:"slow_copies"`
	SlowDelayMs   float64 `json:"slow_delay_ms"`
	// HedgeMode is "adaptive" (the default: each node's recent p95,
	// within the hedging budget) or "fixed" (HedgeAfterMs).
	HedgeMode    string  `json:"hedge_mode"`
	HedgeAfterMs float64 `json:"hedge_after_ms"`
	// HedgeRequests counts the shard requests (presearch included) the
	// hedging coordinator sent in its phase, Hedges the hedged ones among
	// them; HedgeExtraRequestsPct is Hedges over the rest, in percent.
	HedgeRequests         uint64  `json:"hedge_requests"`
	Hedges                uint64  `json:"hedges"`
	HedgeExtraRequestsPct float64 `json:"hedge_extra_requests_pct"`
	// HedgeP99Ratio is the hedged p99 over the healthy p99 of the same
	// cluster.
	HedgeP99Ratio float64 `json:"hedge_p99_ratio"`

	// Broad are the broad-query phases (match-all, prefixes, wildcards).
	Broad []BroadPhase `json:"broad"`

	// Targets are issues 5's and 12's goals, checked on this run.
	Targets  []Target `json:"targets"`
	ElapsedS float64  `json:"elapsed_s"`
}

// Target is one goal and whether this run met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Op is ">=" or "<=".
	Op    string  `json:"op"`
	Limit float64 `json:"limit"`
	Met   bool    `json:"met"`
}

// Phase returns the phase called name.
func (r *Result) Phase(name string) (Phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// ratio is a over b to three decimals, or 0 when b was not measured.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return round(a/b, 3)
}

// finish computes the ratios and checks the targets.
func (r *Result) finish() {
	alias, _ := r.Phase("alias")
	shoal, _ := r.Phase("shoal")
	aliasRep, _ := r.Phase("alias_repeat")
	shoalRep, _ := r.Phase("shoal_repeat")
	healthy, _ := r.Phase("tail_healthy")
	hedged, _ := r.Phase("slow_replica_hedge")
	r.IndexRatio = median(r.IndexRatios)
	r.QPSRatio = ratio(shoal.QPS, alias.QPS)
	r.P99Ratio = ratio(shoal.P99Ms, alias.P99Ms)
	r.QPSRatioRepeat = ratio(shoalRep.QPS, aliasRep.QPS)
	r.P99RatioRepeat = ratio(shoalRep.P99Ms, aliasRep.P99Ms)
	r.HedgeP99Ratio = ratio(hedged.P99Ms, healthy.P99Ms)
	at := func(name string, v float64, op string, limit float64) {
		met := v >= limit
		if op == "<=" {
			met = v <= limit
		}
		r.Targets = append(r.Targets, Target{Name: name, Value: v, Op: op, Limit: limit, Met: met})
	}
	at("index_ratio", r.IndexRatio, ">=", 0.9)
	at("qps_ratio", r.QPSRatio, ">=", 0.85)
	at("p99_ratio", r.P99Ratio, "<=", 1.3)
	at("qps_ratio_repeat", r.QPSRatioRepeat, ">=", 0.9)
	at("top10_agreement", r.Top10Agreement, ">=", 0.999)
	at("hedge_p99_ratio", r.HedgeP99Ratio, "<=", 1.5)
	at("hedge_extra_requests_pct", r.HedgeExtraRequestsPct, "<=", 5)
}

// Missed lists the targets this run did not meet.
func (r *Result) Missed() []string {
	var out []string
	for _, t := range r.Targets {
		if !t.Met {
			out = append(out, t.Name)
		}
	}
	return out
}

// MarshalJSON encodes the result as one flat object: the fields above plus,
// for every phase, query_qps_<name>, p50_ms_<name>, p95_ms_<name>,
// p99_ms_<name>, cpu_ms_per_query_<name>, errors_<name>, repeated_<name>
// and, for Shoal's, stats_hit_rate_<name>.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result
	b, err := json.Marshal((*plain)(r))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, p := range r.Phases {
		m["query_qps_"+p.Name] = p.QPS
		m["p50_ms_"+p.Name] = p.P50Ms
		m["p95_ms_"+p.Name] = p.P95Ms
		m["p99_ms_"+p.Name] = p.P99Ms
		m["errors_"+p.Name] = p.Errors
		m["repeated_"+p.Name] = p.Repeated
		m["cpu_ms_per_query_"+p.Name] = p.CPUMsPerQuery
		if p.StatsHitRate != nil {
			m["stats_hit_rate_"+p.Name] = *p.StatsHitRate
		}
	}
	m["targets_missed"] = r.Missed()
	return json.Marshal(m)
}

// engineLabels name the phases in the table.
var engineLabels = map[string]string{
	"bleve":                "bleve, 1 index",
	"alias":                "bleve alias, N shards",
	"shoal":                "shoal over NATS",
	"http":                 "shoal over HTTP",
	"tail_healthy":         "healthy",
	"slow_replica_nohedge": "one slow copy, hedging off",
	"slow_replica_hedge":   "one slow copy, hedging",
}

// WriteTable prints the result as a readable table.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Shoal bench: %d docs (%s), %d shards, %d searchers, %d queries, %d clients, %gs per phase, GOMAXPROCS %d\n\n",
		r.Docs, r.Corpus, r.Shards, r.Searchers, r.Queries, r.Clients, r.DurationS, r.GOMAXPROCS)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "indexing (median of %d rounds)\tdocs/s\t\n", len(r.IndexRatios))
	fmt.Fprintf(tw, "bleve, 1 index, batches\t%.0f\t\n", r.IndexDocsPerSBleve)
	fmt.Fprintf(tw, "bleve, %d indexes (alias)\t%.0f\t\n", r.Shards, r.IndexDocsPerSAlias)
	fmt.Fprintf(tw, "shoal, shoal index's loader → searchable\t%.0f\t\n", r.IndexDocsPerSShoal)
	fmt.Fprintf(tw, "shoal, replicas 2, %d searchers\t%.0f\t\n", r.TailSearchers, r.IndexDocsPerSShoalR2)
	tw.Flush()
	fmt.Fprintf(&b, "index_ratio (shoal/bleve) %.3f, by round %v\n\n", r.IndexRatio, r.IndexRatios)

	fmt.Fprintf(&b, "queries, top 10: %d distinct (%d repeated in the repeat phase); a distinct phase asks no query twice of a coordinator until they are used up\n", r.Queries, r.RepeatQueries)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "engine\tphase\tclients\tq/s\tp50 ms\tp99 ms\tcpu ms/q\tcores\terrors\trepeated\tstats hits\t")
	for _, name := range []string{"bleve_1c", "bleve", "alias_1c", "alias", "shoal_1c", "shoal", "http_1c", "http", "alias_repeat", "shoal_repeat"} {
		p, ok := r.Phase(name)
		if !ok {
			continue
		}
		engine, phase, _ := strings.Cut(p.Name, "_")
		if phase != "repeat" {
			phase = "distinct"
		}
		hits := "-"
		if p.StatsHitRate != nil {
			hits = fmt.Sprintf("%.1f%%", 100**p.StatsHitRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%s\t\n", engineLabels[engine], phase, p.Clients, p.QPS, p.P50Ms, p.P99Ms, p.CPUMsPerQuery, p.CPUCores, p.Errors, p.Repeated, hits)
	}
	tw.Flush()
	fmt.Fprintf(&b, "qps_ratio (shoal/alias, distinct) %.3f   p99_ratio %.3f   qps_ratio_repeat %.3f   p99_ratio_repeat %.3f\n", r.QPSRatio, r.P99Ratio, r.QPSRatioRepeat, r.P99RatioRepeat)
	fmt.Fprintf(&b, "top10_agreement with 1 index over %d queries not seen before: shoal %.4f, alias %.4f", r.AgreementQueries, r.Top10Agreement, r.Top10AgreementAlias)
	if r.AgreementStatsHitRate != nil {
		fmt.Fprintf(&b, " (statistics without a presearch: %.1f%%)", 100**r.AgreementStatsHitRate)
	}
	b.WriteString("\n\n")

	if len(r.Broad) > 0 {
		fmt.Fprintf(&b, "broad queries (match-all, 2-3 letter prefixes, wildcards; %d clients):\n%s\n", r.Clients, broadSummary(r.Broad))
	}

	hedge := "hedging adaptive"
	if r.HedgeMode == "fixed" {
		hedge = fmt.Sprintf("hedge after %gms", r.HedgeAfterMs)
	}
	fmt.Fprintf(&b, "tail: replicas 2 on %d searchers, one searcher (%d shard copies) +%gms, %s, %d queries\n",
		r.TailSearchers, r.SlowCopies, r.SlowDelayMs, hedge, r.TailQueries)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "shoal over NATS\tclients\tq/s\tp50 ms\tp99 ms\tcpu ms/q\tcores\terrors\t")
	for _, p := range r.Phases {
		if strings.HasPrefix(p.Name, "tail_") || strings.HasPrefix(p.Name, "slow_") {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", engineLabels[p.Name], p.Clients, p.QPS, p.P50Ms, p.P99Ms, p.CPUMsPerQuery, p.CPUCores, p.Errors)
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "hedged p99 / healthy p99 %.3f; extra requests %d of %d (%.2f%%)\n\n",
		r.HedgeP99Ratio, r.Hedges, r.HedgeRequests-r.Hedges, r.HedgeExtraRequestsPct)

	fmt.Fprintln(&b, "targets (issues 5 and 12):")
	for _, t := range r.Targets {
		mark := "ok  "
		if !t.Met {
			mark = "MISS"
		}
		fmt.Fprintf(&b, "  %s %-26s %10.3f %s %g\n", mark, t.Name, t.Value, t.Op, t.Limit)
	}
	fmt.Fprintf(&b, "elapsed %.1fs\n", r.ElapsedS)
	_, err := io.WriteString(w, b.String())
	return err
}
