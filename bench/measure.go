package bench

import (
	"context"
	"fmt"
	"math"
	"os"
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
// running queries back to back for the phase's duration.
type Phase struct {
	// Name is the phase's key in the JSON report: the engine ("bleve",
	// "alias", "shoal", "http"), with "_1c" for the one-client run, or a
	// tail phase ("tail_healthy", "slow_replica_nohedge",
	// "slow_replica_hedge").
	Name    string  `json:"name"`
	Clients int     `json:"clients"`
	QPS     float64 `json:"qps"`
	P50Ms   float64 `json:"p50_ms"`
	P95Ms   float64 `json:"p95_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// CPUMsPerQuery is the process's CPU time (every component of the
	// engine, and the clients) per answered query: unlike the latencies it
	// hardly depends on what else runs on the machine.
	CPUMsPerQuery float64 `json:"cpu_ms_per_query"`
	// AllocsPerQuery and KBPerQuery are the heap allocations of the whole
	// process per answered query.
	AllocsPerQuery float64 `json:"allocs_per_query"`
	KBPerQuery     float64 `json:"kb_per_query"`
	// Queries counts the answered queries, Errors the failed ones.
	Queries    int    `json:"queries"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

// runPhase runs queries on fn from clients goroutines for d. Client i
// starts at query i·len/clients and walks the list round. Latencies of
// answered queries give the percentiles; QPS counts answered queries over
// the phase's wall time.
func runPhase(ctx context.Context, name string, clients int, d time.Duration, queries []string, fn searchFunc) Phase {
	type clientOut struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	outs := make([]clientOut, clients)
	cpu0, cpuOK := cpuTime()
	objs0, bytes0 := heapAllocs()
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := &outs[i]
			k := i * len(queries) / clients
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				_, err := fn(ctx, queries[k%len(queries)], 10)
				if err != nil {
					o.errs++
					if o.firstErr == nil {
						o.firstErr = fmt.Errorf("%q: %w", queries[k%len(queries)], err)
					}
				} else {
					o.lat = append(o.lat, time.Since(t0))
				}
				k++
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := cpuTime()
	objs1, bytes1 := heapAllocs()
	var all []time.Duration
	p := Phase{Name: name, Clients: clients}
	for _, o := range outs {
		all = append(all, o.lat...)
		p.Errors += o.errs
		if o.firstErr != nil && p.FirstError == "" {
			p.FirstError = o.firstErr.Error()
		}
	}
	slices.Sort(all)
	p.Queries = len(all)
	p.QPS = round(float64(len(all))/elapsed.Seconds(), 1)
	p.P50Ms = percentileMs(all, 0.50)
	p.P95Ms = percentileMs(all, 0.95)
	p.P99Ms = percentileMs(all, 0.99)
	p.MaxMs = percentileMs(all, 1)
	if len(all) > 0 {
		p.AllocsPerQuery = round(float64(objs1-objs0)/float64(len(all)), 0)
		p.KBPerQuery = round(float64(bytes1-bytes0)/1024/float64(len(all)), 1)
	}
	if cpuOK && len(all) > 0 {
		p.CPUMsPerQuery = round(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(len(all)), 3)
	}
	return p
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
// goes to prefix-name.pprof.
func profile(prefix, name string, fn func() error) error {
	if prefix == "" {
		return fn()
	}
	f, err := os.Create(prefix + "-" + name + ".pprof")
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

// round rounds x to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
