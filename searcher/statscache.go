package searcher

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/shoal-search/shoal/protocol"
)

// statsCache keeps decoded global statistics by their encoding. The
// coordinator caches the statistics of a query and sends the very same
// bytes with every search of it, so a node decodes them once rather than
// on every search. Entries live in two generations: when the current one
// is full it becomes the old one and the old one is dropped.
type statsCache struct {
	max int

	mu       sync.Mutex
	cur, old map[string]*Stats
}

func newStatsCache(max int) *statsCache {
	return &statsCache{max: max, cur: map[string]*Stats{}}
}

// decode returns the statistics raw encodes (nil for none). The result is
// shared: callers must not change it.
func (c *statsCache) decode(raw json.RawMessage) (*Stats, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	c.mu.Lock()
	st, ok := c.cur[string(raw)]
	if !ok {
		if st, ok = c.old[string(raw)]; ok {
			c.put(string(raw), st)
		}
	}
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	gs := new(protocol.GlobalStats)
	if err := json.Unmarshal(raw, gs); err != nil {
		return nil, fmt.Errorf("decode statistics: %w", err)
	}
	st = NewStats(gs)
	c.mu.Lock()
	c.put(string(raw), st)
	c.mu.Unlock()
	return st, nil
}

// put adds an entry; c.mu is held.
func (c *statsCache) put(key string, st *Stats) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[string]*Stats, c.max)
	}
	c.cur[key] = st
}
