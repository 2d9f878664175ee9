package coordinator

import (
	"math"
	"sync"

	"github.com/shoal-search/shoal/meta"
)

// Coverage says how much of an index an answer covers, in documents: the
// documents of the shards that answered (Docs) out of all of them
// (Total), and the share in percent. Percent is exactly 100 when every
// shard answered, and below 100 when one did not.
type Coverage struct {
	Docs    uint64  `json:"docs"`
	Total   uint64  `json:"total"`
	Percent float64 `json:"percent"`
}

// shardSizes are the document counts of each index's shards as last seen
// in the copies' heartbeats, kept so that a shard whose every copy is
// gone, heartbeat and all, still counts in the total.
type shardSizes struct {
	mu      sync.Mutex
	indexes map[string]*indexSizes
}

// indexSizes are one index incarnation's shard sizes.
type indexSizes struct {
	uid   string
	docs  []uint64
	known []bool
}

func newShardSizes() *shardSizes { return &shardSizes{indexes: map[string]*indexSizes{}} }

// shardDocs returns the document count of each shard of def: for each shard,
// its most complete copy as the heartbeats report it; failing that, the
// count last seen; failing that (never seen), the mean of the others.
func (c *Coordinator) shardDocs(def *meta.IndexDef) []uint64 {
	seen := make([]uint64, def.Shards)
	found := make([]bool, def.Shards)
	if m := c.cat.ShardMap(def.Name); m != nil {
		for s := 0; s < def.Shards && s < len(m.Copies); s++ {
			for _, n := range m.Copies[s] {
				if st, ok := c.cat.Copy(n, def.Name, s); ok {
					seen[s], found[s] = max(seen[s], st.Docs), true
				}
			}
		}
	}
	return c.sizes.remember(def, seen, found)
}

// remember records the counts found now, fills in the others from memory,
// and estimates those never seen.
func (z *shardSizes) remember(def *meta.IndexDef, seen []uint64, found []bool) []uint64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	ix := z.indexes[def.Name]
	if ix == nil || ix.uid != def.UID || len(ix.docs) != def.Shards {
		ix = &indexSizes{uid: def.UID, docs: make([]uint64, def.Shards), known: make([]bool, def.Shards)}
		z.indexes[def.Name] = ix
	}
	out := make([]uint64, def.Shards)
	var sum uint64
	known := 0
	for s := range out {
		if found[s] {
			ix.docs[s], ix.known[s] = seen[s], true
		}
		if ix.known[s] {
			out[s] = ix.docs[s]
			sum += out[s]
			known++
		}
	}
	if known > 0 && known < len(out) {
		for s := range out {
			if !ix.known[s] {
				out[s] = sum / uint64(known)
			}
		}
	}
	return out
}

// coverage is the coverage of an answer whose shards fared as outcomes,
// the shards holding docs documents each.
func coverage(outcomes []shardOutcome, docs []uint64) Coverage {
	var cov Coverage
	answered := 0
	for s, o := range outcomes {
		cov.Total += docs[s]
		if o.err == nil && o.answered {
			cov.Docs += docs[s]
			answered++
		}
	}
	switch {
	case answered == len(outcomes):
		cov.Docs, cov.Percent = cov.Total, 100
	case cov.Total > 0:
		cov.Percent = partialPercent(float64(cov.Docs) / float64(cov.Total))
	default: // nothing known of the documents: the share of shards
		cov.Percent = partialPercent(float64(answered) / float64(len(outcomes)))
	}
	return cov
}

// partialPercent is share in percent, rounded down to two decimals and
// below 100: a partial answer never claims full coverage, even when the
// shards it misses hold nothing.
func partialPercent(share float64) float64 {
	return min(math.Floor(share*10000)/100, 99.99)
}
