package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

var errNotPlaced = errors.New("shard not placed")

// shardOutcome is how one shard fared in a search.
type shardOutcome = outcome[*bleve.SearchResult]

// scatter sends the search q (stats: encoded global statistics or nil) to
// every shard of its index and returns one outcome per shard.
//
// Each shard's first-choice copy decides the node it is asked on, and each
// node gets one request naming all its shards; it answers with their
// merged top hits, so a query costs a message and a decode per node rather
// than per shard. A shard its node cannot answer, or silent past the hedge
// delay, is asked of its other copies (attempts), inside the same deadline.
// Shards the map places nowhere are asked of their queue group.
func (c *Coordinator) scatter(ctx context.Context, q *query, stats json.RawMessage) []shardOutcome {
	ctx, span := c.tracer.Start(ctx, "scatter")
	defer span.End()
	job := newSearchJob(ctx, q, stats)
	cp := &searchCopies{natsCopies: c.natsCopies(q.def.Name), job: job}
	cp.charge = (&answerBudget{max: c.opts.MaxAnswerBytes}).charge
	hedge := c.hedging(ctx)
	groups := c.groupByNode(q.def)
	results := fanout.Run(ctx, groups, fanout.Options{}, func(ctx context.Context, g nodeGroup) ([]shardOutcome, error) {
		a := newAttempts[*bleve.SearchResult](cp, hedge, g.lead, g.plans)
		if c.metrics != nil {
			a.count = c.metrics.shardRequest
		}
		return a.run(ctx), nil
	})
	outcomes := make([]shardOutcome, q.def.Shards)
	for k, g := range groups {
		for j, p := range g.plans {
			if j < len(results[k].Value) {
				outcomes[p.shard] = results[k].Value[j]
			} else {
				outcomes[p.shard] = shardOutcome{node: g.lead, err: results[k].Err}
			}
			if q.profile {
				outcomes[p.shard].asked = askedCopies(g.lead, p, outcomes[p.shard].tried)
			}
		}
	}
	return outcomes
}

// askedCopies names the copies a shard of plan p was asked of, in order:
// lead, if any, then the first tried of its other copies ("" is the
// shard's queue group).
func askedCopies(lead string, p shardPlan, tried int) []string {
	var out []string
	if lead != "" {
		out = append(out, lead)
	}
	return append(out, p.copies[:min(tried, len(p.copies))]...)
}

// nodeGroup is the shards asked of one node first (lead), each with the
// copies to try after it; a shard placed nowhere is a group of its own
// with no lead.
type nodeGroup struct {
	lead  string
	plans []shardPlan
}

// groupByNode groups def's shards by the node of their first-choice copy.
func (c *Coordinator) groupByNode(def *meta.IndexDef) []nodeGroup {
	var groups []nodeGroup
	byNode := map[string]int{}
	for s := 0; s < def.Shards; s++ {
		nodes := c.copiesOf(def.Name, s)
		if len(nodes) == 0 { // ask the queue group
			groups = append(groups, nodeGroup{plans: []shardPlan{{shard: s, copies: []string{""}}}})
			continue
		}
		plan := shardPlan{shard: s, copies: append(nodes[1:len(nodes):len(nodes)], "")}
		k, ok := byNode[nodes[0]]
		if !ok {
			k = len(groups)
			byNode[nodes[0]] = k
			groups = append(groups, nodeGroup{lead: nodes[0]})
		}
		groups[k].plans = append(groups[k].plans, plan)
	}
	return groups
}

// copiesOf lists the nodes to try for a shard: the caught-up copies on live
// nodes first, rotated so load spreads over them, then copies of unknown
// state or on nodes that stopped beating.
func (c *Coordinator) copiesOf(index string, shard int) []string {
	m := c.cat.ShardMap(index)
	if m == nil || shard >= len(m.Copies) {
		return nil
	}
	var ready, other []string
	for _, n := range m.Copies[shard] {
		if c.cat.Serving(n, index, shard) {
			ready = append(ready, n)
		} else {
			other = append(other, n)
		}
	}
	if len(ready) > 1 {
		k := rand.IntN(len(ready)) // independent per shard and query
		ready = append(ready[k:], ready[:k]...)
	}
	return append(ready, other...)
}

// searchJob is one search as scatter sends it.
type searchJob struct {
	def        *meta.IndexDef
	req, stats json.RawMessage
	timeout    time.Duration
	profile    bool // ask the nodes for their timings
	// single is the per-copy request (protocol.SearchRequest), encoded
	// only if some shard needs it.
	single func() ([]byte, error)
}

func newSearchJob(ctx context.Context, q *query, stats json.RawMessage) *searchJob {
	dl, _ := ctx.Deadline()
	job := &searchJob{def: q.def, req: q.raw, stats: stats, timeout: time.Until(dl), profile: q.timings}
	job.single = sync.OnceValues(func() ([]byte, error) {
		return json.Marshal(protocol.SearchRequest{Request: job.req, Stats: job.stats, Timeout: job.timeout, Profile: job.profile})
	})
	return job
}
