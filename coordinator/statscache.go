package coordinator

import (
	"encoding/json"
	"sync"
	"time"
)

// statsCache keeps the global statistics of recent queries, so that the
// presearch round trip is paid once per query and index state, not per
// search. An entry is dropped when it is older than its TTL or when a shard
// reports having applied writes the statistics did not see.
type statsCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]*statsEntry
}

type statsEntry struct {
	stats   json.RawMessage // encoded protocol.GlobalStats
	seq     map[int]uint64  // per shard: applied sequence at presearch
	expires time.Time
}

func newStatsCache(ttl time.Duration, max int) *statsCache {
	return &statsCache{ttl: ttl, max: max, entries: map[string]*statsEntry{}}
}

func (c *statsCache) get(key string) json.RawMessage {
	if c.ttl <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	if time.Now().After(e.expires) {
		delete(c.entries, key)
		return nil
	}
	return e.stats
}

func (c *statsCache) put(key string, st json.RawMessage, seq map[int]uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k := range c.entries { // evict an arbitrary entry
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = &statsEntry{stats: st, seq: seq, expires: time.Now().Add(c.ttl)}
}

// observe drops key's entry if shard has applied writes past what the
// cached statistics counted.
func (c *statsCache) observe(key string, shard int, applied uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && applied > e.seq[shard] {
		delete(c.entries, key)
	}
}

// observeAll is observe for every shard that answered a search made with
// key's statistics ("" when the search used none).
func (c *statsCache) observeAll(key string, outcomes []shardOutcome) {
	if key == "" {
		return
	}
	for s, o := range outcomes {
		if o.answered {
			c.observe(key, s, o.seq)
		}
	}
}
