package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// presearch returns the index-wide statistics q's query touches, encoded
// (protocol.GlobalStats.AppendBinary), and the key under which they are
// cached per query ("" for none); a search that does not score needs none.
//
// A query whose scored terms the coordinator can tell by itself (probe.go)
// takes them from the shards' term tables it holds (termstats.go): no
// round trip, unless a shard's figures are missing or older than the
// search must count. Any other query (fuzzy, numeric ranges, …) is asked
// of every shard in a presearch, whose answer is cached per query
// (statscache.go). Shards that fail the presearch are not counted; the
// search that follows reports them, and its answer says which shards the
// statistics miss (q.counted, q.stale).
func (c *Coordinator) presearch(ctx context.Context, q *query) ([]byte, string, error) {
	q.statsCache = cacheNone
	if !q.scores {
		return nil, "", nil
	}
	if c.probe != nil {
		if qt, ok := c.probe.terms(ctx, q.def, q.rewritten); ok && !c.tables.anyTooLarge(q.def.UID, qt.fields) {
			st, err := c.termStats(ctx, q, qt)
			c.metrics.cacheLookup(q.statsCache == cacheHit)
			return st, "", err
		}
	}
	def := q.def
	qraw, err := json.Marshal(q.search.Query)
	if err != nil {
		return nil, "", &RequestError{Type: "invalid_request", Err: fmt.Errorf("encode query: %w", err)}
	}
	key := def.Name + "\x00" + def.UID + "\x00" + string(qraw)
	after := q.fresh.after
	st := c.cache.get(key, after)
	c.metrics.cacheLookup(st != nil)
	if st != nil { // cached only when every shard was counted
		q.statsCache = cacheHit
		q.counted = allShards(def.Shards)
		return st, key, nil
	}
	q.statsCache = cacheMiss
	ctx, span := c.tracer.Start(ctx, "presearch")
	defer span.End()
	flight := key
	if len(after) > 0 { // needs statistics that count its writes
		flight += "\x00" + fmt.Sprint(after)
	}
	fields := c.tableFields(q)
	v, err, _ := c.sf.Do(flight, func() (any, error) {
		return c.gatherStats(ctx, def, qraw, fields, key, after)
	})
	if err != nil {
		return nil, "", err
	}
	g := v.(gathered)
	q.counted = g.counted
	return g.raw, key, nil
}

// gathered is the statistics of a query, encoded, and which shards they
// count.
type gathered struct {
	raw     []byte // binary (protocol.GlobalStats.AppendBinary)
	counted []bool
}

// allShards counts every one of n shards.
func allShards(n int) []bool {
	all := make([]bool, n)
	for s := range all {
		all[s] = true
	}
	return all
}

// tableFields are the fields q reads whose term tables fit: their
// cardinality is the size of the tables' union.
func (c *Coordinator) tableFields(q *query) []string {
	if c.probe == nil {
		return nil
	}
	m, err := c.probe.mapping(q.def)
	if err != nil {
		return nil
	}
	fs, err := bquery.ExtractFields(q.rewritten, m, search.NewFieldSet())
	if err != nil {
		return nil
	}
	var out []string
	for f := range fs {
		if !c.tables.isTooLarge(q.def.UID, f) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// gatherStats asks every shard of def for its statistics of the query
// qraw and its term tables of fields, from copies that have applied
// after's writes, sums them, and caches the sum under key if every shard
// answered.
func (c *Coordinator) gatherStats(ctx context.Context, def *meta.IndexDef, qraw json.RawMessage, fields []string, key string, after map[int]uint64) (gathered, error) {
	// Statistics are worth at most half of the time: a shard whose
	// copies are all silent must leave the search time to answer with
	// the others.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		defer cancel()
	}
	shards := make([]int, def.Shards)
	for s := range shards {
		shards[s] = s
	}
	results := fanout.Run(ctx, shards, fanout.Options{}, func(ctx context.Context, s int) (protocol.PresearchResponse, error) {
		return c.shardStats(ctx, def, s, qraw, fields, after)
	})
	total := &protocol.GlobalStats{}
	seqs := make(map[int]uint64, def.Shards)
	vec := make([]uint64, def.Shards)
	counted := make([]bool, def.Shards)
	for s, r := range results {
		vec[s] = noShard
		if r.Err != nil {
			var se *protocol.ShardError
			if errors.As(r.Err, &se) && se.Code == protocol.CodeBadRequest {
				return gathered{}, &RequestError{Type: "search_error", Err: errors.New(se.Description)}
			}
			continue
		}
		total.Add(&r.Value.Stats)
		seqs[s], vec[s] = r.Value.AppliedSeq, r.Value.AppliedSeq
		counted[s] = true
	}
	if len(seqs) == 0 {
		// No statistics at all: let each shard score with its own.
		return gathered{counted: counted}, nil
	}
	// Bleve's field "cardinality" counts distinct terms: the size of the
	// union of the term tables of the shards that answered (without
	// them, the sum of the shards' own).
	for _, f := range fields {
		if tt := c.tables.merge(def.UID, f, vec); tt != nil {
			total.Fields[f] = tt.Len()
		}
	}
	// Encoded once: every shard of every search that reuses them gets
	// these bytes.
	raw, err := total.AppendBinary(nil)
	if err != nil {
		return gathered{}, fmt.Errorf("encode statistics: %w", err)
	}
	if len(seqs) == def.Shards {
		c.cache.put(key, raw, seqs)
	}
	return gathered{raw: raw, counted: counted}, nil
}

// shardStats is one shard's presearch: its statistics of the query, and
// its term tables of fields that changed since we last had them.
func (c *Coordinator) shardStats(ctx context.Context, def *meta.IndexDef, s int, qraw json.RawMessage, fields []string, after map[int]uint64) (protocol.PresearchResponse, error) {
	dl, _ := ctx.Deadline()
	payload, err := json.Marshal(protocol.PresearchRequest{Query: qraw, Fields: fields, Have: c.tables.have(def.UID, s, fields), MinSeq: after[s], Timeout: time.Until(dl)})
	if err != nil {
		return protocol.PresearchResponse{}, fmt.Errorf("encode presearch: %w", err)
	}
	pr, _, err := askShard[protocol.PresearchResponse](ctx, c, def.Name, s, protocol.OpPresearch, payload, freshness{after: after})
	if err != nil {
		return pr, err
	}
	return pr, c.tables.store(def.UID, def.Shards, s, &pr, fields, 0)
}
