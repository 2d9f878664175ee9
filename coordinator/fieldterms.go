package coordinator

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// termSets keeps each shard's distinct-term set per field (as roaring
// bitmaps of term hashes) with the applied sequence it describes, so the
// index-wide distinct-term count of a field — what Bleve's BM25 uses for
// the average field length — is the cardinality of their union, and a
// shard resends a set only after it has changed.
type termSets struct {
	mu   sync.Mutex
	sets map[termSetKey]termSet
}

type termSetKey struct {
	uid   string
	shard int
	field string
}

type termSet struct {
	seq uint64
	bm  *roaring.Bitmap
}

func newTermSets() *termSets { return &termSets{sets: map[termSetKey]termSet{}} }

// have lists the fields this coordinator holds for a shard, with their
// sequences.
func (t *termSets) have(uid string, shard int) map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]uint64{}
	for k, v := range t.sets {
		if k.uid == uid && k.shard == shard {
			out[k.field] = v.seq
		}
	}
	return out
}

func (t *termSets) put(uid string, shard int, field string, seq uint64, raw []byte) error {
	bm := roaring.New()
	if err := bm.UnmarshalBinary(raw); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sets[termSetKey{uid, shard, field}] = termSet{seq: seq, bm: bm}
	return nil
}

// distinct is the number of distinct terms of field over the given shards.
func (t *termSets) distinct(uid string, shards []int, field string) (int, bool) {
	t.mu.Lock()
	bms := make([]*roaring.Bitmap, 0, len(shards))
	for _, s := range shards {
		ts, ok := t.sets[termSetKey{uid, s, field}]
		if !ok {
			t.mu.Unlock()
			return 0, false
		}
		bms = append(bms, ts.bm)
	}
	t.mu.Unlock()
	return int(roaring.FastOr(bms...).GetCardinality()), true
}
