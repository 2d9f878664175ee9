package searcher

import (
	"fmt"

	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/protocol"
)

// statsCache keeps decoded global statistics by their encoding. The
// coordinator caches the statistics of a query and sends the very same
// bytes with every search of it, so a node decodes them once rather than
// on every search. It is bounded in bytes: least recently used statistics
// leave first.
type statsCache struct {
	entries *lru.Cache[string, *Stats]
}

func newStatsCache(maxBytes int64) *statsCache {
	return &statsCache{entries: lru.New[string, *Stats](maxBytes)}
}

// decode returns the statistics raw encodes (nil for none). The result is
// shared: callers must not change it.
func (c *statsCache) decode(raw []byte) (*Stats, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if st, ok := c.entries.Get(string(raw)); ok {
		return st, nil
	}
	gs, err := protocol.DecodeGlobalStats(raw)
	if err != nil {
		return nil, fmt.Errorf("decode statistics: %w", err)
	}
	st := NewStats(gs)
	c.entries.Put(string(raw), st, statsSize(raw, gs))
	return st, nil
}

// statsSize estimates what decoded statistics hold: their key, and for
// every term its map entries (statistics and the synonym map built from
// them), about 96 bytes beside the term itself.
func statsSize(raw []byte, gs *protocol.GlobalStats) int64 {
	n := int64(2*len(raw)) + 256
	for _, terms := range gs.Terms {
		n += 96 * int64(len(terms))
	}
	return n
}

// CacheStats reports the state of the node's caches, by name ("stats":
// decoded statistics; "term_sets": the term tables of all its copies,
// summed), for metrics.
func (n *Node) CacheStats() map[string]lru.Stats {
	out := map[string]lru.Stats{"stats": n.stats.entries.Stats()}
	var ts lru.Stats
	n.mu.Lock()
	for _, r := range n.copies {
		s := r.shard.terms.entries.Stats()
		ts.Entries += s.Entries
		ts.Bytes += s.Bytes
		ts.MaxBytes += s.MaxBytes
		ts.Evictions += s.Evictions
	}
	n.mu.Unlock()
	out["term_sets"] = ts
	return out
}
