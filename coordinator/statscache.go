package coordinator

import (
	"encoding/json"
	"time"

	"github.com/shoal-search/shoal/lru"
)

// statsCache keeps the global statistics of recent queries, so that the
// presearch round trip is paid once per query and index state, not per
// search. It is bounded in bytes (least recently used entries leave); an
// entry is also dropped when it is older than its TTL or when a shard
// reports having applied writes the statistics did not see.
type statsCache struct {
	ttl     time.Duration
	entries *lru.Cache[string, *statsEntry]
}

type statsEntry struct {
	stats   json.RawMessage // encoded protocol.GlobalStats
	seq     map[int]uint64  // per shard: applied sequence at presearch
	expires time.Time
}

// size is what an entry costs: its key, its encoded statistics and its
// sequences, plus the bookkeeping around them.
func (e *statsEntry) size(key string) int64 {
	return int64(len(key) + len(e.stats) + 16*len(e.seq) + 128)
}

func newStatsCache(ttl time.Duration, maxBytes int64) *statsCache {
	return &statsCache{ttl: ttl, entries: lru.New[string, *statsEntry](maxBytes)}
}

// get returns key's statistics, if cached; with after (read-your-writes),
// only if they counted every write it names.
func (c *statsCache) get(key string, after map[int]uint64) json.RawMessage {
	if c.ttl <= 0 {
		return nil
	}
	e, ok := c.entries.Get(key)
	if !ok {
		return nil
	}
	if time.Now().After(e.expires) {
		c.entries.Remove(key)
		return nil
	}
	for s, seq := range after {
		if e.seq[s] < seq {
			return nil
		}
	}
	return e.stats
}

func (c *statsCache) put(key string, st json.RawMessage, seq map[int]uint64) {
	if c.ttl <= 0 {
		return
	}
	e := &statsEntry{stats: st, seq: seq, expires: time.Now().Add(c.ttl)}
	c.entries.Put(key, e, e.size(key))
}

// observe drops key's entry if shard has applied writes past what the
// cached statistics counted.
func (c *statsCache) observe(key string, shard int, applied uint64) {
	if e, ok := c.entries.Get(key); ok && applied > e.seq[shard] {
		c.entries.Remove(key)
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

// CacheStats reports the state of the coordinator's caches, by name
// ("stats": global statistics of queries; "term_sets": shards' distinct-term
// sets), for metrics.
func (c *Coordinator) CacheStats() map[string]lru.Stats {
	return map[string]lru.Stats{"stats": c.cache.entries.Stats(), "term_sets": c.terms.sets.Stats()}
}
