package bench

import (
	"context"
	"fmt"
)

// query measures agreement and the query phases of engines (bleve, alias,
// shoal, http, in that order): the distinct phases with one client and
// with several, then the repeat phase (alias and shoal).
func (r *run) query(ctx context.Context, engines []engine) error {
	o, res, sets := r.o, r.res, r.sets
	// Every engine runs the repeat set once: connections, page cache,
	// and the coordinator's statistics of the fields queried.
	for _, e := range engines {
		warm(ctx, sets.repeat, len(sets.repeat), e.fn)
	}
	// 4. Agreement, on queries Shoal has not seen.
	var h0, m0 float64
	if engines[2].stats != nil {
		h0, m0 = engines[2].stats()
	}
	ag, n := agreement(ctx, sets.agreement, engines[0].fn, engines[2].fn, engines[1].fn)
	res.Top10Agreement, res.Top10AgreementAlias, res.AgreementQueries = ag[0], ag[1], n
	if engines[2].stats != nil {
		h1, m1 := engines[2].stats()
		res.AgreementStatsHitRate = hitRate(true, h1-h0, m1-m0)
	}
	r.logf("top-10 agreement with one index over %d queries: shoal %.4f, alias %.4f%s", n, ag[0], ag[1], hitNote(res.AgreementStatsHitRate))
	// 5. Distinct queries: the two Shoal engines share one coordinator,
	// so they share one source too.
	shoal := newSource(sets.timed)
	sources := []*querySource{newSource(sets.timed), newSource(sets.timed), shoal, shoal}
	for _, clients := range []int{1, o.Clients} {
		suffix := ""
		if clients == 1 {
			suffix = "_1c"
		}
		if err := r.phases(ctx, engines, sources, suffix, clients); err != nil {
			return err
		}
	}
	// 6. The repeat phase: warm caches.
	if len(sets.repeat) == 0 {
		return ctx.Err()
	}
	warm(ctx, sets.repeat, len(sets.repeat), engines[2].fn)
	rep := []engine{engines[1], engines[2]}
	return r.phases(ctx, rep, []*querySource{newSource(sets.repeat), newSource(sets.repeat)}, "_repeat", o.Clients)
}

// phases measures engines, interleaved (or one after the other, each
// profiled, with CPUProfile), with clients clients, engine i taking its
// queries from sources[i].
func (r *run) phases(ctx context.Context, engines []engine, sources []*querySource, suffix string, clients int) error {
	if r.o.CPUProfile != "" {
		// A CPU profile covers the whole process: one engine at a
		// time, each phase in one piece.
		for i, e := range engines {
			if err := r.phase(ctx, "query-"+e.name+suffix, e.name+suffix, clients, sources[i], e); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range runInterleaved(ctx, engines, sources, suffix, clients, r.o.Duration, r.o.Turn) {
		r.res.Phases = append(r.res.Phases, p)
		r.logPhase(p)
	}
	return ctx.Err()
}

// phase runs one timed query phase (profiled as profName) and records it.
func (r *run) phase(ctx context.Context, profName, name string, clients int, src *querySource, e engine) error {
	var p Phase
	err := profile(r.o.CPUProfile, profName, func() error {
		p = runPhase(ctx, name, clients, r.o.Duration, src, e)
		return nil
	})
	if err != nil {
		return err
	}
	r.res.Phases = append(r.res.Phases, p)
	r.logPhase(p)
	return ctx.Err()
}

// hitNote is ", statistics cache hits X%" for a known rate.
func hitNote(rate *float64) string {
	if rate == nil {
		return ""
	}
	return fmt.Sprintf(", statistics without a presearch %.1f%%", 100**rate)
}

func (r *run) logPhase(p Phase) {
	r.logf("query  %-22s %2d clients: %8.1f q/s  p50 %7.2f ms  p99 %7.2f ms  cpu %5.2f ms/q  (%d queries, %d repeated, %d errors%s)",
		p.Name, p.Clients, p.QPS, p.P50Ms, p.P99Ms, p.CPUMsPerQuery, p.Queries, p.Repeated, p.Errors, hitNote(p.StatsHitRate))
	if p.FirstError != "" {
		r.logf("       first error: %s", p.FirstError)
	}
}
