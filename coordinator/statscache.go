package coordinator

import (
	"time"

	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/token"
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
	stats   []byte         // protocol.GlobalStats in binary form
	seq     map[int]uint64 // per shard: applied sequence at presearch
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
func (c *statsCache) get(key string, after map[int]uint64) []byte {
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

func (c *statsCache) put(key string, st []byte, seq map[int]uint64) {
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

// observeSeqs takes note of the sequence each shard that answered a
// search of def had applied: the term tables of a shard seen at a newer
// one are read again before the next search scores with them, and so are
// the statistics cached under key (the query's, "" for none).
func (c *Coordinator) observeSeqs(def *meta.IndexDef, key string, outcomes []shardOutcome) {
	for s, o := range outcomes {
		if !o.answered {
			continue
		}
		c.tables.observe(def.UID, def.Shards, s, o.seq)
		if key != "" {
			c.cache.observe(key, s, o.seq)
		}
	}
}

// Written tells the coordinator that every live copy of the shards of
// index that t names has applied the writes t covers (refresh=wait_for):
// the next search that scores counts them in its statistics.
func (c *Coordinator) Written(index string, t token.Token) {
	def, err := c.cat.Index(index)
	if err != nil || def.UID != t.UID {
		return
	}
	for s, seq := range t.Seqs {
		if s < def.Shards {
			c.tables.observe(def.UID, def.Shards, s, seq)
		}
	}
}

// CacheStats reports the state of the coordinator's caches, by name
// ("stats": global statistics of queries presearched; "term_sets": the
// shards' term tables), for metrics.
func (c *Coordinator) CacheStats() map[string]lru.Stats {
	return map[string]lru.Stats{"stats": c.cache.entries.Stats(), "term_sets": c.tables.tables.Stats()}
}
