package coordinator

import (
	"time"
)

// Profile says where one search's time went (profile=true): the
// coordinator's phases, which add up to TookUS, and what each shard cost.
// Times are in microseconds.
type Profile struct {
	TookUS int64          `json:"took_us"`
	Phases ProfilePhases  `json:"phases"`
	Shards []ShardProfile `json:"shards"`
}

// ProfilePhases are the coordinator's phases of a search, in order.
type ProfilePhases struct {
	// PrepareUS: the request checked against the limits and encoded.
	PrepareUS int64 `json:"prepare_us"`
	// PresearchUS: the global statistics found, in the cache or by asking
	// every shard; StatsCache says which: "hit", "miss", or "none" for a
	// search that does not score.
	PresearchUS int64  `json:"presearch_us"`
	StatsCache  string `json:"stats_cache"`
	// ScatterUS: every shard asked, until each answered or failed.
	ScatterUS int64 `json:"scatter_us"`
	// MergeUS: the answers merged and the shard account made.
	MergeUS int64 `json:"merge_us"`
}

// ShardProfile is one shard's part of a search.
type ShardProfile struct {
	Shard int `json:"shard"`
	// Node is the node the answering request went to ("" for the shard's
	// queue group); Copy is the node whose copy of the shard answered, as
	// it says itself.
	Node string `json:"node,omitempty"`
	Copy string `json:"copy,omitempty"`
	// Asked lists the copies asked, in order ("" is the queue group);
	// Hedges counts those asked because an earlier one was slow; Won is
	// the request whose answer was taken: "first", "failover" or "hedge".
	Asked  []string `json:"asked"`
	Hedges int      `json:"hedges"`
	Won    string   `json:"won,omitempty"`
	// QueueUS and SearchUS are the node's own account: the shard's wait
	// for a worker and its search. NodeUS is the node's whole time on the
	// request (all the shards it answered with, merged and encoded).
	QueueUS  int64 `json:"queue_us"`
	SearchUS int64 `json:"search_us"`
	NodeUS   int64 `json:"node_us"`
	// WaitUS is how long the coordinator waited for the answer, and
	// NetworkUS the part of it the node did not spend: the network, NATS
	// and the encoding both ways.
	WaitUS    int64 `json:"wait_us"`
	NetworkUS int64 `json:"network_us"`
	// State is the shard's state: "answered", or, for a shard that did
	// not answer, its state in the shard account (timed_out, failed,
	// unavailable or behind), and Error why.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// stage is one of a search's phases as the timeline records them.
type stage int

const (
	stagePrepare stage = iota
	stagePresearch
	stageScatter
	stageMerge
	stageCount
)

// timeline records the phases of one search as it goes.
type timeline struct {
	start, last time.Time
	spent       [stageCount]time.Duration
}

func newTimeline() *timeline {
	now := time.Now()
	return &timeline{start: now, last: now}
}

// mark ends stage s now: it took the time since the last mark.
func (t *timeline) mark(s stage) {
	now := time.Now()
	t.spent[s] = now.Sub(t.last)
	t.last = now
}

// total is the time from the start to the last mark.
func (t *timeline) total() time.Duration { return t.last.Sub(t.start) }

// requestNames are the names of the request kinds in a profile.
var requestNames = [...]string{requestFirst: "first", requestFailover: "failover", requestHedge: "hedge"}

// buildProfile is the profile of the search q, timed by tl, whose shards
// fared as outcomes.
func buildProfile(q *query, tl *timeline, outcomes []shardOutcome) *Profile {
	p := &Profile{
		TookUS: tl.total().Microseconds(),
		Phases: ProfilePhases{
			PrepareUS:   tl.spent[stagePrepare].Microseconds(),
			PresearchUS: tl.spent[stagePresearch].Microseconds(),
			StatsCache:  q.statsCache,
			ScatterUS:   tl.spent[stageScatter].Microseconds(),
			MergeUS:     tl.spent[stageMerge].Microseconds(),
		},
		Shards: make([]ShardProfile, len(outcomes)),
	}
	for s, o := range outcomes {
		sp := ShardProfile{Shard: s, Node: o.node, Asked: o.asked, Hedges: o.hedges, State: StateAnswered}
		if sp.Asked == nil {
			sp.Asked = []string{}
		}
		if o.err != nil || !o.answered {
			sp.State, sp.Error = failureReason(o.err)
			p.Shards[s] = sp
			continue
		}
		sp.Copy, sp.Won = o.from, requestNames[o.kind]
		sp.QueueUS, sp.SearchUS, sp.NodeUS = o.status.queue.Microseconds(), o.status.search.Microseconds(), o.took.Microseconds()
		sp.WaitUS = o.wait.Microseconds()
		if o.took > 0 {
			sp.NetworkUS = max(sp.WaitUS-sp.NodeUS, 0)
		}
		p.Shards[s] = sp
	}
	return p
}

// slowest is the shard whose answer the coordinator waited for longest
// (nil if none answered).
func (p *Profile) slowest() *ShardProfile {
	var out *ShardProfile
	for i := range p.Shards {
		sp := &p.Shards[i]
		if sp.Error == "" && (out == nil || sp.WaitUS > out.WaitUS) {
			out = sp
		}
	}
	return out
}
