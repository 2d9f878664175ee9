package catalog

import (
	"slices"
	"time"

	"github.com/shoal-search/shoal/meta"
)

// defaultStoreStall is the default of Options.StoreStall: longer than a
// JetStream stream takes to elect a new leader after its broker dies.
const defaultStoreStall = 15 * time.Second

// live reports whether the node of heartbeat n counts as live at now;
// c.mu is held.
//
// A node is live while its last heartbeat is younger than NodeTimeout. But
// the heartbeats reach the catalog through a JetStream bucket, and when
// that bucket's stream has no leader (its broker killed, a new one not
// elected yet) or the catalog's watcher moves to another broker, no node
// can beat for seconds: judged by age alone, every live node would count
// as dead at once, and the answers would lose their copy ranking and their
// exact statistics, shoal_nodes_live would drop to 0 and every shard would
// look unserved. So while no node at all has beaten for NodeTimeout, a
// node that was beating with the last of them stays live, for StoreStall
// more. The price: when every node dies at once, they count as dead that
// much later (their shards fail at once anyway: nothing answers for them).
func (c *Catalog) live(n *meta.NodeStatus, now time.Time) bool {
	age := now.Sub(n.Heartbeat)
	if age <= c.opts.NodeTimeout {
		return true
	}
	quiet := now.Sub(c.newestBeat) > c.opts.NodeTimeout
	return quiet && c.newestBeat.Sub(n.Heartbeat) <= c.opts.NodeTimeout && age <= c.opts.NodeTimeout+c.opts.StoreStall
}

// Live reports whether node counts as live (see live).
func (c *Catalog) Live(node string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.nodes[node]
	return ok && c.live(n, time.Now())
}

// LiveNodes returns the names of the live nodes, sorted.
func (c *Catalog) LiveNodes() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	now := time.Now()
	var out []string
	for name, n := range c.nodes {
		if c.live(n, now) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
