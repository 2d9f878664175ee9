package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// BroadPhase is one engine's run of broad queries: match-all, 2- and
// 3-letter prefixes and wildcards, which expand to many terms.
type BroadPhase struct {
	Phase
	// PeakRSSMB is the process's largest resident set during the phase,
	// and RSSGrowthMB how far above its start it went (the bench runs every
	// engine in one process: the growth is what this engine's queries
	// cost).
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	RSSGrowthMB float64 `json:"rss_growth_mb"`
}

// broadQueries are the broad queries of a run: every spelling of
// match-all, and prefixes and wildcards built from the corpus's own words
// (the commonest 2- and 3-letter beginnings first).
func broadQueries(docs []doc, n int) []string {
	out := []string{"*", "*:*", "_all:*"}
	counts := map[string]int{}
	rng := rand.New(rand.NewPCG(querySeed, 7))
	for i := 0; i < 2000 && len(docs) > 0; i++ {
		for _, w := range docWords(docs[rng.IntN(len(docs))].Body) {
			if len(w.text) >= 4 {
				counts[w.text[:2]]++
				counts[w.text[:3]]++
			}
		}
	}
	stems := make([]string, 0, len(counts))
	for s := range counts {
		stems = append(stems, s)
	}
	sort.Slice(stems, func(i, j int) bool {
		if counts[stems[i]] != counts[stems[j]] {
			return counts[stems[i]] > counts[stems[j]]
		}
		return stems[i] < stems[j]
	})
	for i, s := range stems {
		if len(out) >= n {
			break
		}
		switch i % 4 {
		case 0, 1:
			out = append(out, s+"*")
		case 2:
			out = append(out, "*"+s[1:]+"*")
		default:
			out = append(out, s[:1]+"?"+s[2:]+"*")
		}
	}
	return out
}

// broad runs the broad-query phase of each engine, one after the other,
// sampling the resident set meanwhile.
func (r *run) broad(ctx context.Context, engines []engine) {
	qs := broadQueries(r.docs, 60)
	r.logf("broad  %d queries: match-all, prefixes, wildcards (e.g. %v)", len(qs), qs[:min(6, len(qs))])
	for _, e := range engines {
		start := rssMB()
		peak := newPeakRSS()
		p := runPhase(ctx, "broad_"+e.name, r.o.Clients, r.o.Duration, newSource(qs), e)
		bp := BroadPhase{Phase: p, PeakRSSMB: peak.stop()}
		bp.RSSGrowthMB = round(max(0, bp.PeakRSSMB-start), 1)
		r.res.Broad = append(r.res.Broad, bp)
		r.logf("broad  %-22s %2d clients: %8.1f q/s  p99 %7.2f ms  peak RSS %6.0f MB (+%.0f)  (%d queries, %d errors)",
			e.name, p.Clients, p.QPS, p.P99Ms, bp.PeakRSSMB, bp.RSSGrowthMB, p.Queries, p.Errors)
		if p.FirstError != "" {
			r.logf("       first error: %s", p.FirstError)
		}
	}
}

// peakRSS samples the resident set until stopped.
type peakRSS struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak float64
}

func newPeakRSS() *peakRSS {
	p := &peakRSS{done: make(chan struct{}), peak: rssMB()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.peak = max(p.peak, rssMB())
			}
		}
	}()
	return p
}

func (p *peakRSS) stop() float64 {
	close(p.done)
	p.wg.Wait()
	return round(max(p.peak, rssMB()), 1)
}

// rssMB is the process's resident set in MB (0 where /proc is absent).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, err := strconv.ParseFloat(string(f[1]), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// broadSummary is the line of the table for the broad phases.
func broadSummary(phases []BroadPhase) string {
	var b bytes.Buffer
	for _, p := range phases {
		fmt.Fprintf(&b, "%-26s %8.1f q/s  p99 %7.2f ms  peak RSS %6.0f MB (+%.0f)  errors %d\n",
			engineLabels[p.Name[len("broad_"):]], p.QPS, p.P99Ms, p.PeakRSSMB, p.RSSGrowthMB, p.Errors)
	}
	return b.String()
}
