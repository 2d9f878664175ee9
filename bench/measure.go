package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"time"
)

// hit is one entry of a top-10 answer.
type hit struct {
	id    string
	score float64
}

// searchFunc runs one query string on one engine and returns its top size
// hits.
type searchFunc func(ctx context.Context, q string, size int) ([]hit, error)

// Phase is the outcome of one timed query phase: Clients goroutines each
// running queries back to back for the phase's duration (in one piece or
// in turns, see runInterleaved).
type Phase struct {
	// Name is the phase's key in the JSON report: the engine ("bleve",
	// "alias", "shoal", "http"), with "_1c" for the one-client run and
	// "_repeat" for the repeat phase, or a tail phase ("tail_healthy",
	// "slow_replica_nohedge", "slow_replica_hedge").
	Name    string  `json:"name"`
	Clients int     `json:"clients"`
	QPS     float64 `json:"qps"`
	P50Ms   float64 `json:"p50_ms"`
	P95Ms   float64 `json:"p95_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// CPUMsPerQuery is the process's CPU time (every component of the
	// engine, and the clients) per answered query: the cost of a query,
	// much less sensitive than latency to other load on the machine.
	CPUMsPerQuery float64 `json:"cpu_ms_per_query"`
	// CPUCores is the process's average CPU use in the phase, in cores:
	// below GOMAXPROCS with many clients, the phase waited (on locks, on
	// the network, or for a CPU another process held).
	CPUCores float64 `json:"cpu_cores"`
	// AllocsPerQuery and KBPerQuery are the heap allocations of the whole
	// process per answered query.
	AllocsPerQuery float64 `json:"allocs_per_query"`
	KBPerQuery     float64 `json:"kb_per_query"`
	// Queries counts the answered queries, Errors the failed ones.
	Queries    int    `json:"queries"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// Repeated counts the queries asked that the phase's source had
	// handed out before (in this phase or an earlier one sharing it).
	Repeated int `json:"repeated"`
	// StatsHitRate is the share of the coordinator's global-statistics
	// lookups in the phase that needed no presearch round (from its
	// shoal_stats_cache_requests_total); absent for engines without one.
	StatsHitRate *float64 `json:"stats_hit_rate,omitempty"`
}

// engine is a search path under test.
type engine struct {
	name string
	fn   searchFunc
	// stats, when set, reads the coordinator's statistics lookups so far
	// (hits and misses).
	stats func() (hits, misses float64)
}

// phaseRun accumulates one phase's measurements over its turns.
type phaseRun struct {
	clients      int
	lat          []time.Duration
	errs         int
	firstErr     error
	repeated     int
	elapsed      time.Duration
	cpu          time.Duration
	cpuOK        bool
	objs         uint64
	bytes        uint64
	hits, misses float64
	counted      bool
}

// turn runs queries from src on e from pr.clients clients for d.
func (pr *phaseRun) turn(ctx context.Context, d time.Duration, src *querySource, e engine) {
	type clientOut struct {
		lat      []time.Duration
		errs     int
		repeated int
		firstErr error
	}
	outs := make([]clientOut, pr.clients)
	var h0, m0 float64
	if e.stats != nil {
		h0, m0 = e.stats()
	}
	cpu0, cpuOK := cpuTime()
	objs0, bytes0 := heapAllocs()
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func(o *clientOut) {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				q, again := src.take()
				if again {
					o.repeated++
				}
				if _, err := e.fn(ctx, q, 10); err != nil {
					o.errs++
					if o.firstErr == nil {
						o.firstErr = fmt.Errorf("%q: %w", q, err)
					}
				} else {
					o.lat = append(o.lat, time.Since(t0))
				}
			}
		}(&outs[i])
	}
	wg.Wait()
	pr.elapsed += time.Since(start)
	cpu1, _ := cpuTime()
	objs1, bytes1 := heapAllocs()
	pr.cpu += cpu1 - cpu0
	pr.cpuOK = cpuOK
	pr.objs += objs1 - objs0
	pr.bytes += bytes1 - bytes0
	if e.stats != nil {
		h1, m1 := e.stats()
		pr.hits, pr.misses, pr.counted = pr.hits+h1-h0, pr.misses+m1-m0, true
	}
	for _, o := range outs {
		pr.lat = append(pr.lat, o.lat...)
		pr.errs += o.errs
		pr.repeated += o.repeated
		if pr.firstErr == nil {
			pr.firstErr = o.firstErr
		}
	}
}

// phase summarises the run: latencies of answered queries give the
// percentiles; QPS counts answered queries over the wall time of its turns.
func (pr *phaseRun) phase(name string) Phase {
	all := pr.lat
	slices.Sort(all)
	p := Phase{Name: name, Clients: pr.clients, Queries: len(all), Errors: pr.errs, Repeated: pr.repeated}
	if pr.firstErr != nil {
		p.FirstError = pr.firstErr.Error()
	}
	if pr.elapsed > 0 {
		p.QPS = round(float64(len(all))/pr.elapsed.Seconds(), 1)
	}
	p.P50Ms = percentileMs(all, 0.50)
	p.P95Ms = percentileMs(all, 0.95)
	p.P99Ms = percentileMs(all, 0.99)
	p.MaxMs = percentileMs(all, 1)
	if len(all) > 0 {
		p.AllocsPerQuery = round(float64(pr.objs)/float64(len(all)), 0)
		p.KBPerQuery = round(float64(pr.bytes)/1024/float64(len(all)), 1)
	}
	if pr.cpuOK && pr.elapsed > 0 {
		p.CPUCores = round(float64(pr.cpu)/float64(pr.elapsed), 2)
	}
	if pr.cpuOK && len(all) > 0 {
		p.CPUMsPerQuery = round(float64(pr.cpu)/float64(time.Millisecond)/float64(len(all)), 3)
	}
	p.StatsHitRate = hitRate(pr.counted, pr.hits, pr.misses)
	return p
}

// hitRate is hits over all lookups, rounded; nil when not counted or
// there were none.
func hitRate(counted bool, hits, misses float64) *float64 {
	if !counted || hits+misses <= 0 {
		return nil
	}
	r := round(hits/(hits+misses), 4)
	return &r
}

// runPhase runs queries on e from clients goroutines for d, every client
// taking the next query of src.
func runPhase(ctx context.Context, name string, clients int, d time.Duration, src *querySource, e engine) Phase {
	pr := &phaseRun{clients: clients}
	pr.turn(ctx, d, src, e)
	return pr.phase(name)
}

// runInterleaved measures several engines with the same clients for d each,
// in turns of at most turn: engine 1, engine 2, …, engine 1, … On a machine
// shared with other work, each engine then meets the same background load
// on average, and their ratios mean something. Engine i takes its queries
// from sources[i]; phase names get suffix.
func runInterleaved(ctx context.Context, engines []engine, sources []*querySource, suffix string, clients int, d, turn time.Duration) []Phase {
	runs := make([]*phaseRun, len(engines))
	for i := range runs {
		runs[i] = &phaseRun{clients: clients}
	}
	for left := d; left > 0 && ctx.Err() == nil; left -= turn {
		for i, e := range engines {
			runs[i].turn(ctx, min(turn, left), sources[i], e)
		}
	}
	out := make([]Phase, len(engines))
	for i, e := range engines {
		out[i] = runs[i].phase(e.name + suffix)
	}
	return out
}

// heapAllocs reports the objects and bytes allocated on the heap so far.
func heapAllocs() (objects, bytes uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0, 0
	}
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// percentileMs is the q-quantile (nearest rank) of sorted latencies, in ms.
func percentileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return round(float64(sorted[i])/float64(time.Millisecond), 3)
}

// warm runs up to n queries once on fn, so that caches and connections are
// warm before a timed phase.
func warm(ctx context.Context, queries []string, n int, fn searchFunc) {
	for _, q := range queries[:min(n, len(queries))] {
		if ctx.Err() != nil {
			return
		}
		_, _ = fn(ctx, q, 10)
	}
}

// scoreTolerance is the relative difference under which two scores count
// as equal (a tie).
const scoreTolerance = 1e-9

func sameScore(a, b float64) bool {
	return math.Abs(a-b) <= scoreTolerance*math.Max(math.Abs(a), math.Abs(b))+1e-12
}

// refSize is how many hits the reference engine returns in the agreement
// pass: more than 10, so that a tie across rank 10 is seen whole.
const refSize = 50

// sameTop reports whether got, a top-10 answer, holds the same ids as the
// reference answer ref (the reference's top refSize) up to ties: ref's
// hits are grouped by equal score; a group inside the top 10 must appear
// in got at the same ranks, in any order; a group that crosses rank 10 may
// be represented in got by any of its members, since each engine breaks
// ties its own way.
func sameTop(ref, got []hit, k int) bool {
	want := min(k, len(ref))
	if len(got) != want {
		return false
	}
	for i := 0; i < want; {
		j := i + 1
		for j < len(ref) && sameScore(ref[j].score, ref[i].score) {
			j++
		}
		open := j == len(ref) && len(ref) >= refSize // the tie may go on unseen
		ids := make(map[string]bool, j-i)
		for _, h := range ref[i:j] {
			ids[h.id] = true
		}
		for _, h := range got[i:min(j, want)] {
			if !ids[h.id] && !open {
				return false
			}
		}
		i = j
	}
	return true
}

// agreement is, for each of others, the fraction of queries (answered by
// ref) on which its top 10 equals ref's up to ties, and the number of
// queries compared.
func agreement(ctx context.Context, queries []string, ref searchFunc, others ...searchFunc) ([]float64, int) {
	same := make([]int, len(others))
	n := 0
	for _, q := range queries {
		if ctx.Err() != nil {
			break
		}
		want, err := ref(ctx, q, refSize)
		if err != nil {
			continue
		}
		n++
		for i, o := range others {
			got, err := o(ctx, q, 10)
			if err == nil && sameTop(want, got, 10) {
				same[i]++
			}
		}
	}
	out := make([]float64, len(others))
	for i := range others {
		if n > 0 {
			out[i] = round(float64(same[i])/float64(n), 4)
		}
	}
	return out, n
}

// profile runs fn, under the CPU profiler when prefix is set: the profile
// goes to prefix-name.pprof, the heap profiles before and after it to
// prefix-name.alloc-base.pprof and prefix-name.alloc.pprof.
func profile(prefix, name string, fn func() error) error {
	if prefix == "" {
		return fn()
	}
	// The heap profile's allocations are cumulative: one snapshot before
	// and one after the phase, the first as -base of the second, each
	// outside the CPU profile (each runs a garbage collection).
	base := prefix + "-" + name
	if err := heapProfile(base + ".alloc-base.pprof"); err != nil {
		return err
	}
	if err := cpuProfile(base+".pprof", fn); err != nil {
		return err
	}
	return heapProfile(base + ".alloc.pprof")
}

// cpuProfile runs fn under a CPU profile written to path.
func cpuProfile(path string, fn func() error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: cpu profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("bench: cpu profile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// heapProfile writes the heap profile, as of a fresh garbage collection,
// to path.
func heapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	return nil
}

// round rounds x to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
