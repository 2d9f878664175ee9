package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
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
func (c *Coordinator) scatter(ctx context.Context, q *query, stats []byte) []shardOutcome {
	ctx, span := c.tracer.Start(ctx, "scatter")
	defer span.End()
	job := c.newSearchJob(ctx, q, stats)
	cp := &searchCopies{natsCopies: c.natsCopies(q.def.Name), job: job}
	cp.charge = (&answerBudget{max: c.opts.MaxAnswerBytes}).charge
	hedge := c.hedging(ctx)
	groups := c.groupByNode(q.def, q.fresh)
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
// copies to try after it; a shard with no named copy to ask first is a
// group of its own with no lead.
type nodeGroup struct {
	lead  string
	plans []shardPlan
}

// groupByNode groups def's shards by the node of their first-choice copy.
func (c *Coordinator) groupByNode(def *meta.IndexDef, f freshness) []nodeGroup {
	var groups []nodeGroup
	byNode := map[string]int{}
	for s := 0; s < def.Shards; s++ {
		plan := c.planShard(def.Name, s, f)
		if len(plan.copies) == 0 || plan.copies[0] == "" { // the queue group, or nothing to ask
			groups = append(groups, nodeGroup{plans: []shardPlan{plan}})
			continue
		}
		lead := plan.copies[0]
		plan.copies = plan.copies[1:]
		k, ok := byNode[lead]
		if !ok {
			k = len(groups)
			byNode[lead] = k
			groups = append(groups, nodeGroup{lead: lead})
		}
		groups[k].plans = append(groups[k].plans, plan)
	}
	return groups
}

// freshness is what a request asks of the copies it reads: each shard's
// copy must have applied after[shard] (read-your-writes; nil for none),
// and be at most *maxLag writes behind its stream (nil for no limit).
type freshness struct {
	after  map[int]uint64
	maxLag *uint64
}

// errTooFarBehind is a shard whose every copy lags more than max_lag
// writes behind its stream.
var errTooFarBehind = errors.New("every copy is too far behind its stream")

// planShard lists the copies to ask for shard, in order: the caught-up
// copies on live nodes, first those whose heartbeat shows they have the
// writes f asks for, each tier ranked by recent latency and load
// (nodeStats.rankCopies); then copies of unknown state or on nodes that
// stopped beating; then "", the shard's queue group, for a copy the map
// does not show yet. With a lag limit, copies known to lag more are left
// out, and so is the queue group, which could pick one of them. A shard
// with a copy on a live node has a grace for copies between two
// connections (askLater).
func (c *Coordinator) planShard(index string, shard int, f freshness) shardPlan {
	p := shardPlan{shard: shard}
	var nodes []string
	if m := c.cat.ShardMap(index); m != nil && shard < len(m.Copies) {
		nodes = m.Copies[shard]
	}
	var fresh, ready, other []string
	lagging := 0
	for _, n := range nodes {
		st, known := c.cat.Copy(n, index, shard)
		switch {
		case f.maxLag != nil && known && st.Pending > *f.maxLag:
			lagging++
		case !c.cat.Serving(n, index, shard):
			other = append(other, n)
		case f.after[shard] > 0 && st.AppliedSeq >= f.after[shard]:
			fresh = append(fresh, n)
		default:
			ready = append(ready, n)
		}
	}
	p.copies = append(append(c.nodes.rankCopies(fresh), c.nodes.rankCopies(ready)...), other...)
	if len(fresh)+len(ready) > 0 { // a live node holds a copy: see askLater
		p.grace = reconnectGrace
	}
	switch {
	case f.maxLag == nil:
		p.copies = append(p.copies, "")
	case len(p.copies) == 0 && lagging > 0:
		p.why = fmt.Errorf("%w: each of its %d copies is more than max_lag %d writes behind", errTooFarBehind, lagging, *f.maxLag)
	case len(p.copies) == 0:
		p.why = errNotPlaced
	}
	return p
}

// searchJob is one search as scatter sends it.
type searchJob struct {
	def     *meta.IndexDef
	req     json.RawMessage
	stats   []byte // binary (protocol.GlobalStats.AppendBinary)
	timeout time.Duration
	profile bool // ask the nodes for their timings
	// after maps a shard to the sequence its copy must have applied.
	after   map[int]uint64
	ids     requestIDs
	cancels *atomic.Uint64

	// The statistics as JSON, for requests to one copy (failovers,
	// hedges, queue groups), made at the first of them.
	jsonOnce  sync.Once
	jsonStats json.RawMessage
	jsonErr   error
}

// statsJSON returns the job's statistics as a request to one copy carries
// them, encoded once however many such requests the search sends.
func (j *searchJob) statsJSON() (json.RawMessage, error) {
	j.jsonOnce.Do(func() { j.jsonStats, j.jsonErr = statsJSON(j.stats) })
	return j.jsonStats, j.jsonErr
}

func (c *Coordinator) newSearchJob(ctx context.Context, q *query, stats []byte) *searchJob {
	dl, _ := ctx.Deadline()
	return &searchJob{def: q.def, req: q.raw, stats: stats, timeout: time.Until(dl), profile: q.timings,
		after: q.fresh.after, ids: c.ids, cancels: &c.cancels}
}
