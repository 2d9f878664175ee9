package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// presearch returns the index-wide statistics q's query touches, encoded,
// and the key they are cached under; a search that does not score needs
// none. They come from the cache (statscache.go) or from a presearch to
// every shard. Shards that fail the presearch are simply not counted; the
// search that follows reports them.
func (c *Coordinator) presearch(ctx context.Context, q *query) (json.RawMessage, string, error) {
	q.statsCache = cacheNone
	if !q.scores {
		return nil, "", nil
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
	if st != nil {
		q.statsCache = cacheHit
		return st, key, nil
	}
	q.statsCache = cacheMiss
	ctx, span := c.tracer.Start(ctx, "presearch")
	defer span.End()
	flight := key
	if len(after) > 0 { // needs statistics that count its writes
		flight += "\x00" + fmt.Sprint(after)
	}
	v, err, _ := c.sf.Do(flight, func() (any, error) {
		return c.gatherStats(ctx, def, qraw, key, after)
	})
	if err != nil {
		return nil, "", err
	}
	return v.(json.RawMessage), key, nil
}

// gatherStats asks every shard of def for its statistics of the query
// qraw, from copies that have applied after's writes, sums them, and
// caches the sum under key if every shard answered.
func (c *Coordinator) gatherStats(ctx context.Context, def *meta.IndexDef, qraw json.RawMessage, key string, after map[int]uint64) (json.RawMessage, error) {
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
		return c.shardStats(ctx, def, s, qraw, after)
	})
	total := &protocol.GlobalStats{}
	seqs := make(map[int]uint64, def.Shards)
	var answered []int
	for s, r := range results {
		if r.Err != nil {
			var se *protocol.ShardError
			if errors.As(r.Err, &se) && se.Code == protocol.CodeBadRequest {
				return nil, &RequestError{Type: "search_error", Err: errors.New(se.Description)}
			}
			continue
		}
		total.Add(&r.Value.Stats)
		seqs[s] = r.Value.AppliedSeq
		answered = append(answered, s)
	}
	if len(answered) == 0 {
		// No statistics at all: let each shard score with its own.
		return json.RawMessage(nil), nil
	}
	// Bleve's field "cardinality" counts distinct terms: take the union
	// over the shards that answered.
	for f := range total.Fields {
		if n, ok := c.terms.distinct(def.UID, answered, f); ok {
			total.Fields[f] = n
		}
	}
	// Encoded once: every shard of every search that reuses them gets
	// these bytes.
	raw, err := json.Marshal(total)
	if err != nil {
		return nil, fmt.Errorf("encode statistics: %w", err)
	}
	if len(answered) == def.Shards {
		c.cache.put(key, raw, seqs)
	}
	return json.RawMessage(raw), nil
}

// shardStats is one shard's presearch: its statistics of the query, and
// the distinct-term sets of its fields that changed since we last had them.
func (c *Coordinator) shardStats(ctx context.Context, def *meta.IndexDef, s int, qraw json.RawMessage, after map[int]uint64) (protocol.PresearchResponse, error) {
	dl, _ := ctx.Deadline()
	payload, err := json.Marshal(protocol.PresearchRequest{Query: qraw, Have: c.terms.have(def.UID, s), MinSeq: after[s], Timeout: time.Until(dl)})
	if err != nil {
		return protocol.PresearchResponse{}, fmt.Errorf("encode presearch: %w", err)
	}
	pr, _, err := askShard[protocol.PresearchResponse](ctx, c, def.Name, s, protocol.OpPresearch, payload, freshness{after: after})
	if err != nil {
		return pr, err
	}
	for f, raw := range pr.FieldTerms {
		if err := c.terms.put(def.UID, s, f, pr.AppliedSeq, raw); err != nil {
			return pr, err
		}
	}
	return pr, nil
}
