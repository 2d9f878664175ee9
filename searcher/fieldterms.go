package searcher

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/shoal-search/shoal/lru"
	"golang.org/x/sync/singleflight"
)

// fieldTerms caches, per field, the roaring bitmap of the hashes of a
// shard's distinct terms, valid for one applied sequence. It is bounded in
// bytes; a set that left is built again when asked for.
type fieldTerms struct {
	entries *lru.Cache[string, fieldTermsEntry]
	// builds makes the presearches that miss the same set wait for one
	// build instead of each walking the whole dictionary: on a cold
	// shard, every query's presearch asks for the same sets at once.
	builds singleflight.Group
}

type fieldTermsEntry struct {
	seq uint64
	raw []byte
}

// TermHash is the 32-bit hash under which a term enters a field's term set.
func TermHash(term string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(term))
	return h.Sum32()
}

// FieldTerms returns the serialized term-hash set of field and the applied
// sequence it describes.
func (s *Shard) FieldTerms(field string) ([]byte, uint64, error) {
	seq := s.AppliedSeq()
	if e, ok := s.terms.entries.Get(field); ok && e.seq == seq {
		return e.raw, seq, nil
	}
	v, err, _ := s.terms.builds.Do(field+"\x00"+strconv.FormatUint(seq, 10), func() (any, error) {
		raw, err := s.buildFieldTerms(field, seq)
		return raw, err
	})
	if err != nil {
		return nil, 0, err
	}
	return v.([]byte), seq, nil
}

// buildFieldTerms walks field's dictionary into a term-hash set, and keeps
// it as the set of applied sequence seq.
func (s *Shard) buildFieldTerms(field string, seq uint64) ([]byte, error) {
	adv, err := s.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dict, err := r.FieldDict(field)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", field, err)
	}
	defer dict.Close()
	bm := roaring.New()
	for {
		e, err := dict.Next()
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", field, err)
		}
		if e == nil {
			break
		}
		bm.Add(TermHash(e.Term))
	}
	bm.RunOptimize()
	raw, err := bm.ToBytes()
	if err != nil {
		return nil, err
	}
	s.terms.entries.Put(field, fieldTermsEntry{seq: seq, raw: raw}, int64(len(raw)+len(field))+64)
	return raw, nil
}
