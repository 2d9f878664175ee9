package coordinator

import (
	"fmt"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/shoal-search/shoal/lru"
)

// termSets keeps each shard's distinct-term set per field (as roaring
// bitmaps of term hashes) with the applied sequence it describes, so the
// index-wide distinct-term count of a field — what Bleve's BM25 uses for
// the average field length — is the cardinality of their union, and a
// shard resends a set only after it has changed.
type termSets struct {
	sets *lru.Cache[termSetKey, termSet]

	mu sync.Mutex
	// unions memoizes distinct until the next put: the union is costly
	// (milliseconds for a dictionary-sized field) and would otherwise be
	// recomputed on every statistics-cache miss. gen counts puts.
	unions map[unionKey]int
	gen    uint64
}

// maxUnions bounds the memo of unions (a few dozen bytes each).
const maxUnions = 4096

type unionKey struct {
	uid    string
	field  string
	shards string // the shard numbers, in order
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

func newTermSets(maxBytes int64) *termSets {
	return &termSets{sets: lru.New[termSetKey, termSet](maxBytes)}
}

// have lists the fields this coordinator holds for a shard, with their
// sequences.
func (t *termSets) have(uid string, shard int) map[string]uint64 {
	out := map[string]uint64{}
	t.sets.Range(func(k termSetKey, v termSet) bool {
		if k.uid == uid && k.shard == shard {
			out[k.field] = v.seq
		}
		return true
	})
	return out
}

func (t *termSets) put(uid string, shard int, field string, seq uint64, raw []byte) error {
	bm := roaring.New()
	if err := bm.UnmarshalBinary(raw); err != nil {
		return err
	}
	t.sets.Put(termSetKey{uid, shard, field}, termSet{seq: seq, bm: bm}, int64(bm.GetSizeInBytes())+int64(len(uid)+len(field))+64)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unions = nil
	t.gen++
	return nil
}

// distinct is the number of distinct terms of field over the given shards.
func (t *termSets) distinct(uid string, shards []int, field string) (int, bool) {
	key := unionKey{uid: uid, field: field, shards: fmt.Sprint(shards)}
	t.mu.Lock()
	n, ok := t.unions[key]
	gen := t.gen
	t.mu.Unlock()
	if ok {
		return n, true
	}
	bms := make([]*roaring.Bitmap, 0, len(shards))
	for _, s := range shards {
		ts, ok := t.sets.Get(termSetKey{uid, s, field})
		if !ok {
			return 0, false
		}
		bms = append(bms, ts.bm)
	}
	n = unionSize(bms)
	t.mu.Lock()
	if t.gen == gen { // no set changed meanwhile
		if t.unions == nil || len(t.unions) >= maxUnions {
			t.unions = map[unionKey]int{}
		}
		t.unions[key] = n
	}
	t.mu.Unlock()
	return n, true
}

// unionSize is the cardinality of the union of bms. Term hashes spread
// over the whole 32-bit range, so each bitmap is tens of thousands of tiny
// containers, and roaring's in-place unions (FastOr, Or) insert the keys
// missing on the left one memmove at a time. Merging the sorted values is
// linear: on eight shards of 40,000 dictionary entries, about 15ms
// instead of 90-220ms.
func unionSize(bms []*roaring.Bitmap) int {
	if len(bms) == 0 {
		return 0
	}
	union := bms[0].ToArray()
	for _, bm := range bms[1:] {
		union = mergeSorted(union, bm.ToArray())
	}
	return len(union)
}

// mergeSorted is the sorted union of two sorted sets.
func mergeSorted(a, b []uint32) []uint32 {
	out := make([]uint32, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
