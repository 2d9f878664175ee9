package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
)

// Place fills m so that every shard has up to replicas copies, each on a
// different node of live, preferring the least-loaded nodes. Copies on nodes
// in dead are removed first. It reports whether m changed.
func Place(m *broker.ShardMap, replicas int, live []string, dead map[string]bool) bool {
	if replicas < 1 {
		replicas = 1
	}
	changed := false
	load := map[string]int{}
	for _, n := range live {
		load[n] = 0
	}
	for s := range m.Copies {
		kept := m.Copies[s][:0:0]
		for _, n := range m.Copies[s] {
			if dead[n] {
				changed = true
				continue
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
			for _, n := range sortedByLoad(load) {
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
	for {
		c.placeOnce(ctx, healAfter)
		select {
		case <-ctx.Done():
			return
		case <-c.Changed():
		case <-tick.C:
		}
	}
}

func (c *Catalog) placeOnce(ctx context.Context, healAfter time.Duration) {
	live := c.LiveNodes()
	dead := map[string]bool{}
	if healAfter > 0 {
		now := time.Now()
		for _, n := range c.Nodes() {
			if now.Sub(n.Heartbeat) > healAfter {
				dead[n.Node] = true
			}
		}
	}
	for _, def := range c.Indexes() {
		e, err := c.meta.Placement.Get(ctx, def.Name)
		if err != nil {
			continue
		}
		var m broker.ShardMap
		if err := json.Unmarshal(e.Value(), &m); err != nil {
			continue
		}
		if !Place(&m, def.Replicas, live, dead) {
			continue
		}
		if err := c.putMap(ctx, &m, e.Revision(), false); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			c.log.Warn("placement update", "index", def.Name, "err", err)
		}
	}
}
