package searcher

import (
	"strconv"
	"sync/atomic"
	"weak"

	"github.com/blevesearch/bleve/v2/index/scorch"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/shoal-search/shoal/lru"
)

// A fuzzy query walks every segment's term dictionary of a shard with its
// automaton twice: in its presearch, for the terms' statistics, and in its
// search, moments later, on the same snapshot of the shard. The walk is
// most of a fuzzy query's cost. A shard keeps the terms each walk found
// on its current snapshot, so that the search reads them back: a snapshot
// never changes, so neither do the terms it holds. A write makes a new
// snapshot, and the terms kept for the old one are dropped with it.

// expansionBytes bounds the fuzzy expansions a shard keeps.
const expansionBytes = 1 << 20

// expansionCache holds the fuzzy expansions of a shard's snapshot.
type expansionCache struct {
	cur atomic.Pointer[expansions]
}

// expansions are the fuzzy expansions found on one snapshot. The snapshot
// is held weakly: the cache must not keep an old snapshot's segments in
// memory, and once collected it matches no reader.
type expansions struct {
	snap  weak.Pointer[scorch.IndexSnapshot]
	lists *lru.Cache[string, []index.DictEntry]
}

// expansionKey names a fuzzy expansion of term within fuzziness edits,
// starting with prefix, in field.
func expansionKey(field, term string, fuzziness int, prefix string) string {
	return strconv.Itoa(fuzziness) + strconv.Itoa(len(field)) + ":" + field + strconv.Itoa(len(prefix)) + ":" + prefix + term
}

// get returns the expansion kept under key for snap. The entries are
// shared: callers only read them.
func (c *expansionCache) get(snap *scorch.IndexSnapshot, key string) ([]index.DictEntry, bool) {
	if c == nil {
		return nil, false
	}
	e := c.cur.Load()
	if e == nil || e.snap.Value() != snap {
		return nil, false
	}
	return e.lists.Get(key)
}

// put keeps entries, the expansion key found on snap. A snapshot other
// than the one kept replaces it, unless another has just done so.
func (c *expansionCache) put(snap *scorch.IndexSnapshot, key string, entries []index.DictEntry) {
	if c == nil {
		return
	}
	e := c.cur.Load()
	if e == nil || e.snap.Value() != snap {
		fresh := &expansions{snap: weak.Make(snap), lists: lru.New[string, []index.DictEntry](expansionBytes)}
		if !c.cur.CompareAndSwap(e, fresh) {
			return
		}
		e = fresh
	}
	size := int64(len(key)) + 64
	for _, d := range entries {
		size += int64(len(d.Term)) + 40
	}
	e.lists.Put(key, entries, size)
}
