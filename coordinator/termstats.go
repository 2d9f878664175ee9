package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// termStats returns the global statistics of a query whose terms the
// probe found (qt), worked out from the term tables the coordinator holds
// (termtables.go). Only when a shard's figures are missing or older than
// what the search must count — a write seen since (in a search reply, a
// heartbeat, a write this coordinator waited for), or the query's
// after=TOKEN — is that shard asked again, and only that shard, in one
// presearch round: the round is then a miss of the statistics cache.
func (c *Coordinator) termStats(ctx context.Context, q *query, qt *queryTerms) ([]byte, error) {
	def := q.def
	stale, targets := c.staleShards(def, qt.fields, q.fresh.after)
	q.statsCache = cacheHit
	var failed []int
	if len(stale) > 0 {
		q.statsCache = cacheMiss
		failed = c.refreshShards(ctx, def, stale, qt.fields, q.fresh.after, targets)
	}
	st, counted := c.statsOf(def, qt)
	q.counted = counted
	for _, s := range failed {
		if counted[s] { // counted with the figures it had
			q.stale = append(q.stale, s)
		}
	}
	if st == nil {
		return nil, nil // no figures at all: each shard scores with its own
	}
	scored := 0
	for _, terms := range st.Terms {
		scored += len(terms)
	}
	if limit := c.opts.QueryLimits.MaxScoredTerms; scored > limit {
		return nil, &RequestError{Type: "query_too_complex", Err: &rewrite.LimitError{Limit: "max_scored_terms", Max: limit,
			Detail: fmt.Sprintf("the query scores %d terms", scored)}}
	}
	raw, err := st.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("encode statistics: %w", err)
	}
	return raw, nil
}

// staleShards lists the shards of def whose figures for fields must be
// read again, and for every shard the newest sequence it is known at
// (search replies, heartbeats, writes waited for). A shard that no live
// copy serves is left out: it cannot answer.
func (c *Coordinator) staleShards(def *meta.IndexDef, fields []string, after map[int]uint64) ([]int, []uint64) {
	gens := c.tables.generations(def.UID, def.Shards)
	known, served := c.shardStates(def)
	vec := vector(gens, func(int) bool { return true })
	whole := make([]bool, len(fields)) // the merged table is current
	for i, f := range fields {
		whole[i] = c.tables.mergedAt(def.UID, f, vec)
	}
	var stale []int
	for s, g := range gens {
		known[s] = max(known[s], g.seen)
		if !served[s] {
			continue
		}
		if !g.ok || g.seq < after[s] || g.checked < known[s] {
			stale = append(stale, s)
			continue
		}
		for i, f := range fields {
			if !whole[i] && c.tables.table(def.UID, s, f, g.seq) == nil {
				stale = append(stale, s)
				break
			}
		}
	}
	return stale, known
}

// shardStates is, for each shard of def, the newest applied sequence a
// copy's heartbeat reports, and whether it may answer: false when the
// catalog shows copies of it and none is live and caught up.
func (c *Coordinator) shardStates(def *meta.IndexDef) ([]uint64, []bool) {
	known, served := make([]uint64, def.Shards), make([]bool, def.Shards)
	m := c.cat.ShardMap(def.Name)
	for s := range def.Shards {
		if m == nil || s >= len(m.Copies) || len(m.Copies[s]) == 0 {
			served[s] = true // not known: asked all the same
			continue
		}
		for _, n := range m.Copies[s] {
			if st, ok := c.cat.Copy(n, def.Name, s); ok {
				known[s] = max(known[s], st.AppliedSeq)
			}
			served[s] = served[s] || c.cat.Serving(n, def.Name, s)
		}
	}
	return known, served
}

// refreshShards asks each of the stale shards of def, at once, for its
// generation and its term tables of fields, from a copy that has applied
// after's writes, and keeps them; it returns the shards that failed. A
// shard that does not answer (or that refuses: a searcher of an earlier
// release) keeps the figures held, or is left out of the statistics; the
// answer says so, and the search reports the shard if it fails there too.
// The request holds no query, so nothing in it is the client's fault.
func (c *Coordinator) refreshShards(ctx context.Context, def *meta.IndexDef, stale []int, fields []string, after map[int]uint64, known []uint64) []int {
	ctx, span := c.tracer.Start(ctx, "presearch")
	defer span.End()
	if dl, ok := ctx.Deadline(); ok { // at most half of the time: see gatherStats
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		defer cancel()
	}
	names := strings.Join(fields, "\x00")
	results := fanout.Run(ctx, stale, fanout.Options{}, func(ctx context.Context, s int) (struct{}, error) {
		key := "tables\x00" + def.UID + "\x00" + strconv.Itoa(s) + "\x00" + strconv.FormatUint(after[s], 10) + "\x00" + names
		_, err, _ := c.sf.Do(key, func() (any, error) {
			return nil, c.refreshShard(ctx, def, s, fields, after[s], known[s])
		})
		return struct{}{}, err
	})
	var failed []int
	for i, r := range results {
		if r.Err != nil {
			failed = append(failed, stale[i])
		}
	}
	return failed
}

// refreshShard asks shard s of def for its generation and its tables of
// fields (those not held at its generation), from a copy that has applied
// minSeq; the copies known to have applied known are asked first.
func (c *Coordinator) refreshShard(ctx context.Context, def *meta.IndexDef, s int, fields []string, minSeq, known uint64) error {
	dl, _ := ctx.Deadline()
	payload, err := json.Marshal(protocol.PresearchRequest{Fields: fields, Have: c.tables.have(def.UID, s, fields), MinSeq: minSeq, Timeout: time.Until(dl)})
	if err != nil {
		return fmt.Errorf("encode presearch: %w", err)
	}
	order := freshness{after: map[int]uint64{s: max(minSeq, known)}}
	pr, _, err := askShard[protocol.PresearchResponse](ctx, c, def.Name, s, protocol.OpPresearch, payload, order)
	if err != nil {
		return err
	}
	return c.tables.store(def.UID, def.Shards, s, &pr, fields, known)
}

// statsOf works out the global statistics of qt from the figures held:
// the document count and term tables of every shard that a live copy
// serves and that has figures for all of qt's fields (the others are left
// out, as a shard that fails the search is), nil if none has; and which
// shards it counted.
func (c *Coordinator) statsOf(def *meta.IndexDef, qt *queryTerms) (*protocol.GlobalStats, []bool) {
	gens := c.tables.generations(def.UID, def.Shards)
	_, served := c.shardStates(def)
	all := vector(gens, func(int) bool { return true })
	whole := make([]bool, len(qt.fields))
	for i, f := range qt.fields {
		whole[i] = c.tables.mergedAt(def.UID, f, all)
	}
	usable := func(s int) bool {
		if !served[s] {
			return false
		}
		for i, f := range qt.fields {
			if !whole[i] && c.tables.table(def.UID, s, f, gens[s].seq) == nil {
				return false
			}
		}
		return true
	}
	vec := vector(gens, usable)
	st := &protocol.GlobalStats{Fields: make(map[string]int, len(qt.fields)), Terms: map[string]map[string]uint64{}}
	counted := make([]bool, def.Shards)
	n := 0
	for s, seq := range vec {
		if seq != noShard {
			st.DocCount += gens[s].docs
			counted[s] = true
			n++
		}
	}
	if n == 0 {
		return nil, counted
	}
	tables := make(map[string]*protocol.TermTable, len(qt.fields))
	for _, f := range qt.fields {
		if tt := c.tables.merge(def.UID, f, vec); tt != nil { // nil: a table left meanwhile
			tables[f] = tt
			st.Fields[f] = tt.Len()
		}
	}
	for _, t := range qt.terms {
		tt := tables[t.field]
		if tt == nil {
			continue
		}
		if n := tt.Count(t.hash); n > 0 {
			m := st.Terms[t.field]
			if m == nil {
				m = map[string]uint64{}
				st.Terms[t.field] = m
			}
			m[t.term] = uint64(n)
		}
	}
	return st, counted
}
