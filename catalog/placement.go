package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// Place fills m so that every shard has up to replicas copies, each on a
// different node of live, preferring the least-loaded nodes. Copies on nodes
// in dead are removed first, but only as many as live nodes can take over:
// a copy nobody can replace stays where it is, so that its node serves it
// again when it comes back instead of the shard losing its place. It
// reports whether m changed.
func Place(m *meta.ShardMap, replicas int, live []string, dead map[string]bool) bool {
	if replicas < 1 {
		replicas = 1
	}
	changed := false
	load := map[string]int{}
	for _, n := range live {
		load[n] = 0
	}
	for s := range m.Copies {
		alive, gone := 0, 0
		for _, n := range m.Copies[s] {
			if dead[n] {
				gone++
			} else {
				alive++
			}
		}
		free := 0 // live nodes that could take a copy of s
		for n := range load {
			if !contains(m.Copies[s], n) {
				free++
			}
		}
		keepDead := 0
		if need := replicas - alive; need > 0 {
			keepDead = min(gone, need-min(free, need))
		}
		kept := m.Copies[s][:0:0]
		for _, n := range m.Copies[s] {
			if dead[n] {
				if keepDead == 0 {
					changed = true
					continue
				}
				keepDead--
			}
			kept = append(kept, n)
			if _, ok := load[n]; ok {
				load[n]++
			}
		}
		m.Copies[s] = kept
	}
	for s := range m.Copies {
		for len(m.Copies[s]) < replicas {
			best := ""
			for _, n := range spreadOrder(load, m.Index, s) {
				if !contains(m.Copies[s], n) {
					best = n
					break
				}
			}
			if best == "" {
				break
			}
			m.Copies[s] = append(m.Copies[s], best)
			load[best]++
			changed = true
		}
	}
	return changed
}

// spreadOrder orders nodes by load; among equally loaded nodes the order
// depends on the shard, so that copies of different shards do not pair the
// same nodes (losing two nodes then costs as few shards as possible).
func spreadOrder(load map[string]int, index string, shard int) []string {
	names := sortedByLoad(load)
	key := func(n string) uint32 {
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d/%s", index, shard, n)
		return h.Sum32()
	}
	sort.SliceStable(names, func(i, j int) bool {
		if load[names[i]] != load[names[j]] {
			return load[names[i]] < load[names[j]]
		}
		return key(names[i]) < key(names[j])
	})
	return names
}

func sortedByLoad(load map[string]int) []string {
	names := make([]string, 0, len(load))
	for n := range load {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if load[names[i]] != load[names[j]] {
			return load[names[i]] < load[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RunPlacement keeps every index's shards placed until ctx ends: shards that
// lack copies are given to live nodes as nodes appear, and copies on nodes
// silent for longer than healAfter are moved to live ones (0 disables
// moving). Several coordinators may run it at once: updates are
// compare-and-set on the bucket revision.
func (c *Catalog) RunPlacement(ctx context.Context, healAfter time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	started := time.Now()
	for {
		c.placeOnce(ctx, healAfter, started)
		select {
		case <-ctx.Done():
			return
		case <-c.Changed():
		case <-tick.C:
		}
	}
}

// placeOnce places and heals every index once. A node holding copies
// counts as dead when its last heartbeat is older than healAfter (a node
// never seen beating since watching started counts from then) and the
// nodes bucket itself confirms the silence.
func (c *Catalog) placeOnce(ctx context.Context, healAfter time.Duration, started time.Time) {
	live := c.LiveNodes()
	dead := map[string]bool{}
	if healAfter > 0 {
		last := map[string]time.Time{}
		for _, n := range c.Nodes() {
			last[n.Node] = n.Heartbeat
		}
		now := time.Now()
		judged := map[string]bool{}
		for _, def := range c.Indexes() {
			m := c.ShardMap(def.Name)
			if m == nil {
				continue
			}
			for _, nodes := range m.Copies {
				for _, n := range nodes {
					if judged[n] {
						continue
					}
					judged[n] = true
					hb, ok := last[n]
					if !ok {
						hb = started
					}
					if now.Sub(hb) > healAfter && c.confirmSilent(ctx, n, healAfter) {
						dead[n] = true
					}
				}
			}
		}
	}
	for _, def := range c.Indexes() {
		e, err := c.buckets.Placement.Get(ctx, def.Name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			c.placeLost(ctx, def, live, dead)
			continue
		}
		if err != nil {
			continue
		}
		var m meta.ShardMap
		if err := json.Unmarshal(e.Value(), &m); err != nil {
			continue
		}
		changed := Place(&m, def.Replicas, live, dead)
		if c.rebalance(&m, def.Replicas, live) {
			changed = true
		}
		if !changed {
			continue
		}
		if err := c.putMap(ctx, &m, e.Revision(), false); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			c.log.Warn("placement update", "index", def.Name, "err", err)
		}
	}
}

// confirmSilent asks the nodes bucket itself whether node has really not
// beaten for longer than d. The catalog's view follows a KV watcher, which
// stalls for many seconds when the broker restarts or the connection moves
// to another broker; on such a stale view every node looks dead, and moving
// their copies would take every shard off every node at once. When the
// bucket cannot be read, nothing is moved.
func (c *Catalog) confirmSilent(ctx context.Context, node string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	e, err := c.buckets.Nodes.Get(ctx, node)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return true // stopped (heartbeat removed) or silent past the bucket's TTL
	case err != nil:
		return false
	}
	return time.Since(e.Created()) > d
}

// rebalance evens out load one step at a time without ever lowering
// coverage: when the busiest live node holds at least two copies more than
// the idlest, a shard of the busiest gets an extra copy on the idlest; once
// every copy of an over-replicated shard has caught up, the copy on the
// busiest node is dropped. It reports whether m changed.
func (c *Catalog) rebalance(m *meta.ShardMap, replicas int, live []string) bool {
	if replicas < 1 {
		replicas = 1
	}
	isLive := map[string]bool{}
	load := map[string]int{}
	for _, n := range live {
		isLive[n] = true
		load[n] = 0
	}
	for _, nodes := range m.Copies {
		for _, n := range nodes {
			if isLive[n] {
				load[n]++
			}
		}
	}
	// Trim shards that carry an extra copy once all copies are caught up.
	for s, nodes := range m.Copies {
		if len(nodes) <= replicas {
			continue
		}
		ready := true
		for _, n := range nodes {
			st, ok := c.Copy(n, m.Index, s)
			if !ok || !st.CaughtUp || !isLive[n] {
				ready = false
			}
		}
		if !ready {
			return false // wait for the move in flight
		}
		busiest := nodes[0]
		for _, n := range nodes {
			if load[n] > load[busiest] {
				busiest = n
			}
		}
		kept := make([]string, 0, len(nodes)-1)
		for _, n := range nodes {
			if n != busiest {
				kept = append(kept, n)
			}
		}
		m.Copies[s] = kept
		return true
	}
	order := sortedByLoad(load)
	if len(order) < 2 {
		return false
	}
	idle, busy := order[0], order[len(order)-1]
	if load[busy]-load[idle] < 2 {
		return false
	}
	for s, nodes := range m.Copies {
		if contains(nodes, busy) && !contains(nodes, idle) {
			m.Copies[s] = append(m.Copies[s], idle)
			return true
		}
	}
	return false
}

// placeLost places afresh an index that has no shard map (its placement
// was lost, or its definition restored from its stream). An index being
// created gets its map from CreateIndex, and one being deleted loses its
// stream first: only an established index whose definition and stream
// both still exist is placed here.
func (c *Catalog) placeLost(ctx context.Context, def *meta.IndexDef, live []string, dead map[string]bool) {
	if time.Since(def.Created) < 10*time.Second {
		return
	}
	if ok, err := c.exists(ctx, def); err != nil || !ok {
		return
	}
	m := &meta.ShardMap{Index: def.Name, Copies: make([][]string, def.Shards)}
	for i := range m.Copies {
		m.Copies[i] = []string{}
	}
	Place(m, def.Replicas, live, dead)
	if c.putLostMap(ctx, def, m) {
		c.log.Warn("placed an index that had no shard map", "index", def.Name)
	}
}

// putLostMap creates def's shard map m, unless the index has a map by
// now, and reports whether m stays. An index deleted since placeLost
// looked (its stream and definition gone) would be left with a map of
// its own: it is taken back, unless something replaced it meanwhile.
func (c *Catalog) putLostMap(ctx context.Context, def *meta.IndexDef, m *meta.ShardMap) bool {
	raw, err := json.Marshal(m)
	if err != nil {
		return false
	}
	rev, err := c.buckets.Placement.Create(ctx, def.Name, raw)
	if err != nil {
		c.log.Warn("placement of an index without a shard map", "index", def.Name, "err", err)
		return false
	}
	if ok, err := c.exists(ctx, def); ok || err != nil {
		return true
	}
	if err := c.buckets.Placement.Delete(ctx, def.Name, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		c.log.Warn("placement of a deleted index left behind", "index", def.Name, "err", err)
	}
	return false
}

// exists reports whether def's definition (the same UID) and its stream
// both exist; err is set when the bucket or the stream cannot say.
func (c *Catalog) exists(ctx context.Context, def *meta.IndexDef) (bool, error) {
	e, err := c.buckets.Indexes.Get(ctx, def.Name)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	cur, err := meta.DecodeIndexDef(e.Value())
	if err != nil {
		return false, err
	}
	if cur.UID != def.UID {
		return false, nil
	}
	_, err = c.js.Stream(ctx, protocol.StreamName(def.Name))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
