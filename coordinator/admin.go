package coordinator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/token"
)

// ErrDocNotFound is returned by Get for a document the index does not hold.
var ErrDocNotFound = errors.New("document not found")

// GetOptions are the options of a get by id.
type GetOptions struct {
	// After, a read-your-writes token, has the document read from a copy
	// that has applied the token's writes to its shard: one behind waits,
	// or another is asked, and if none catches up in time the get fails
	// with the shard's state "behind".
	After token.Token
	// Timeout bounds the get (0: the default search timeout).
	Timeout time.Duration
}

// Get returns the stored JSON of a document.
func (c *Coordinator) Get(ctx context.Context, index, id string, o GetOptions) (json.RawMessage, error) {
	def, err := c.cat.Index(index)
	if err != nil {
		return nil, err
	}
	fresh, err := freshnessOf(def, o.After, nil)
	if err != nil {
		return nil, err
	}
	timeout := min(cmp.Or(o.Timeout, c.opts.DefaultTimeout), c.opts.MaxTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	shard := meta.ShardOf(id, def.Shards)
	payload, _ := json.Marshal(protocol.GetRequest{ID: id, MinSeq: fresh.after[shard], Timeout: timeout})
	resp, node, err := askShard[protocol.GetResponse](ctx, c, def.Name, shard, protocol.OpGet, payload, fresh)
	if err != nil {
		f := failure(shard, node, err)
		return nil, &UnavailableError{Shards: ShardsAccount{Total: 1, Failed: 1, Failures: []ShardFailure{f}}, TimedOut: f.State == StateTimedOut}
	}
	if !resp.Found {
		return nil, fmt.Errorf("%w: %s", ErrDocNotFound, id)
	}
	return resp.Doc, nil
}

// IndexInfo describes an index and each of its shard copies.
type IndexInfo struct {
	Name string `json:"name"`
	// UID names this incarnation of the index (write answers carry it).
	UID        string                   `json:"uid"`
	Shards     int                      `json:"shards"`
	Replicas   int                      `json:"replicas"`
	Docs       uint64                   `json:"docs"`
	Created    time.Time                `json:"created"`
	Mapping    json.RawMessage          `json:"mapping,omitempty"`
	Facets     map[string]meta.FacetDef `json:"facets,omitempty"`
	ShardStats []ShardStat              `json:"shard_stats"`
}

// ShardStat is the state of one copy of one shard.
type ShardStat struct {
	Shard      int    `json:"shard"`
	Node       string `json:"node"`
	Docs       uint64 `json:"docs"`
	AppliedSeq uint64 `json:"applied_seq"`
	Pending    uint64 `json:"pending"`
	CaughtUp   bool   `json:"caught_up"`
	// Live is false when the copy did not answer; its figures then come
	// from its last heartbeat.
	Live bool `json:"live"`
}

// IndexInfo asks every placed copy of every shard for its state. Documents
// are counted once: for each shard, the most complete live copy.
func (c *Coordinator) IndexInfo(ctx context.Context, index string) (*IndexInfo, error) {
	def, err := c.cat.Index(index)
	if err != nil {
		return nil, err
	}
	info := &IndexInfo{Name: def.Name, UID: def.UID, Shards: def.Shards, Replicas: def.Replicas, Created: def.Created, Mapping: def.Mapping, Facets: def.Facets, ShardStats: []ShardStat{}}
	m := c.cat.ShardMap(index)
	if m == nil {
		return info, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var placed []ShardStat
	for s, nodes := range m.Copies {
		if len(nodes) == 0 {
			info.ShardStats = append(info.ShardStats, ShardStat{Shard: s})
		}
		for _, node := range nodes {
			placed = append(placed, ShardStat{Shard: s, Node: node})
		}
	}
	for _, o := range fanout.Run(ctx, placed, fanout.Options{}, func(ctx context.Context, st ShardStat) (ShardStat, error) {
		return c.copyStat(ctx, index, st), nil
	}) {
		info.ShardStats = append(info.ShardStats, o.Value)
	}
	sortStats(info.ShardStats)
	best := map[int]uint64{}
	for _, st := range info.ShardStats {
		if st.Live && st.Docs > best[st.Shard] {
			best[st.Shard] = st.Docs
		}
	}
	for _, d := range best {
		info.Docs += d
	}
	return info, nil
}

// copyStat asks the copy st names for its state; a copy that does not
// answer is described by its last heartbeat.
func (c *Coordinator) copyStat(ctx context.Context, index string, st ShardStat) ShardStat {
	var cs meta.CopyStatus
	msg, err := c.nc.RequestWithContext(ctx, protocol.CopySubject(st.Node, index, st.Shard, protocol.OpStats), nil)
	if err == nil {
		err = protocol.DecodeReply(msg, &cs)
	}
	if err == nil {
		st.Live = true
	} else if hb, ok := c.cat.Copy(st.Node, index, st.Shard); ok {
		cs = hb
	}
	st.Docs, st.AppliedSeq, st.Pending, st.CaughtUp = cs.Docs, cs.AppliedSeq, cs.Pending, cs.CaughtUp
	return st
}

func sortStats(s []ShardStat) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Shard != s[j].Shard {
			return s[i].Shard < s[j].Shard
		}
		return s[i].Node < s[j].Node
	})
}

// NodeInfo is a searcher node as the cluster sees it.
type NodeInfo struct {
	Node          string            `json:"node"`
	LastHeartbeat time.Time         `json:"last_heartbeat"`
	Live          bool              `json:"live"`
	Copies        []meta.CopyStatus `json:"copies"`
}

// ClusterInfo is the cluster's state.
type ClusterInfo struct {
	Connected bool                      `json:"nats_connected"`
	Server    string                    `json:"nats_server,omitempty"`
	Nodes     []NodeInfo                `json:"nodes"`
	Placement map[string]*meta.ShardMap `json:"placement"`
	Unserved  map[string][]int          `json:"unserved_shards,omitempty"`
}

// ClusterInfo reports nodes, their heartbeats and copies, and placement.
func (c *Coordinator) ClusterInfo() *ClusterInfo {
	ci := &ClusterInfo{Connected: c.nc.IsConnected(), Server: c.nc.ConnectedUrlRedacted(), Nodes: []NodeInfo{}, Placement: map[string]*meta.ShardMap{}}
	for _, n := range c.cat.Nodes() {
		copies := n.Copies
		if copies == nil {
			copies = []meta.CopyStatus{}
		}
		ci.Nodes = append(ci.Nodes, NodeInfo{Node: n.Node, LastHeartbeat: n.Heartbeat, Live: c.cat.Live(n.Node), Copies: copies})
	}
	for _, def := range c.cat.Indexes() {
		if m := c.cat.ShardMap(def.Name); m != nil {
			ci.Placement[def.Name] = m
		}
	}
	ci.Unserved = c.Unserved()
	return ci
}

// Unserved lists, per index, the shards that have no live, caught-up copy.
func (c *Coordinator) Unserved() map[string][]int {
	out := map[string][]int{}
	for _, def := range c.cat.Indexes() {
		m := c.cat.ShardMap(def.Name)
		for s := 0; s < def.Shards; s++ {
			ok := false
			if m != nil && s < len(m.Copies) {
				for _, n := range m.Copies[s] {
					ok = ok || c.cat.Serving(n, def.Name, s)
				}
			}
			if !ok {
				out[def.Name] = append(out[def.Name], s)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Connected reports whether the NATS connection is up.
func (c *Coordinator) Connected() bool { return c.nc.Status() == nats.CONNECTED }
