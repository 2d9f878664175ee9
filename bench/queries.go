package bench

import "sync/atomic"

// querySets are a run's queries, each distinct, in three parts that do not
// overlap:
//
//   - repeat: the warm-up of every engine, then the repeat phase (warm
//     caches: these queries again and again) and the tail phases;
//   - agreement: the queries whose top 10 is compared with one index's,
//     each seen by Shoal for the first time;
//   - timed: the distinct phases, where no query is asked twice of a
//     coordinator until they are used up (then they start over, and the
//     phase counts its repeated queries).
type querySets struct {
	repeat, agreement, timed []string
}

// splitQueries drops repeated queries (keeping the first of each) and
// splits the rest: up to repeat for the repeat set and agreement for the
// agreement set, each at most a quarter of them, and the rest, at least
// half, for the timed phases.
func splitQueries(queries []string, repeat, agreement int) querySets {
	seen := make(map[string]bool, len(queries))
	qs := make([]string, 0, len(queries))
	for _, q := range queries {
		if !seen[q] {
			seen[q] = true
			qs = append(qs, q)
		}
	}
	r := min(max(repeat, 0), len(qs)/4)
	a := min(max(agreement, 0), len(qs)/4)
	if r == 0 && repeat > 0 && len(qs) > 0 {
		r = 1
	}
	return querySets{repeat: qs[:r], agreement: qs[r : r+a], timed: qs[r+a:]}
}

// querySource hands out queries to the clients of one or more phases: each
// query in turn from one cursor, so that clients and phases sharing a
// source never get the same query until the list is used up; it then
// starts over, and what it hands out again counts as repeated.
type querySource struct {
	qs   []string
	next atomic.Uint64
}

func newSource(qs []string) *querySource { return &querySource{qs: qs} }

// take returns the next query, and whether it was handed out before.
func (s *querySource) take() (string, bool) {
	i := s.next.Add(1) - 1
	n := uint64(len(s.qs))
	return s.qs[i%n], i >= n
}
