package searcher

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"golang.org/x/sync/singleflight"

	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/protocol"
)

// fieldTerms caches, per field, the shard's encoded term table
// (protocol.TermTable), valid for one applied sequence. It is bounded in
// bytes; a table that left is built again when asked for.
type fieldTerms struct {
	entries *lru.Cache[string, fieldTermsEntry]
	// builds makes the presearches that miss the same table wait for one
	// build instead of each walking the whole dictionary: on a cold
	// shard, every query's presearch asks for the same tables at once.
	builds singleflight.Group
}

type fieldTermsEntry struct {
	seq uint64
	raw []byte
}

// snapshotSeq is the stream sequence committed in snap: the last write
// whose documents snap holds.
func snapshotSeq(snap *scorch.IndexSnapshot) (uint64, error) {
	v, err := snap.GetInternal(appliedKey)
	if err != nil {
		return 0, fmt.Errorf("read applied seq: %w", err)
	}
	if len(v) != 8 {
		return 0, nil
	}
	return binary.BigEndian.Uint64(v), nil
}

// termTable returns the encoded term table of field in snap, whose
// applied sequence is seq.
func (s *Shard) termTable(snap *scorch.IndexSnapshot, seq uint64, field string) ([]byte, error) {
	if e, ok := s.terms.entries.Get(field); ok && e.seq == seq {
		return e.raw, nil
	}
	v, err, _ := s.terms.builds.Do(field+"\x00"+strconv.FormatUint(seq, 10), func() (any, error) {
		t, err := buildTermTable(snap, field)
		if err != nil {
			return nil, err
		}
		raw, err := t.AppendBinary(make([]byte, 0, 9*t.Len()+8))
		if err != nil {
			return nil, err
		}
		s.terms.entries.Put(field, fieldTermsEntry{seq: seq, raw: raw}, int64(len(raw)+len(field))+64)
		return raw, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// hashCount is one term of one segment: its hash and its live documents.
type hashCount struct {
	hash  uint64
	count uint32
}

// buildTermTable reads field's dictionary in every segment of snap and
// counts, for each term, the live documents that hold it: what Bleve's
// term reader counts as the term's document frequency (deleted documents
// left out), where the dictionary's own counts include the deleted ones
// until a merge drops them. A term no live document holds is left out, as
// one merged index would not have it.
func buildTermTable(snap *scorch.IndexSnapshot, field string) (*protocol.TermTable, error) {
	var terms []hashCount
	for _, ss := range snap.Segments() {
		dict, err := ss.Segment().Dictionary(field)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", field, err)
		}
		if terms, err = appendLive(terms, dict, ss.Deleted()); err != nil {
			return nil, fmt.Errorf("field %s: %w", field, err)
		}
	}
	slices.SortFunc(terms, func(a, b hashCount) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	t := &protocol.TermTable{Hashes: make([]uint64, 0, len(terms)), Counts: make([]uint32, 0, len(terms))}
	for _, tc := range terms {
		if n := len(t.Hashes); n > 0 && t.Hashes[n-1] == tc.hash { // the same term in another segment
			t.Counts[n-1] = uint32(min(uint64(t.Counts[n-1])+uint64(tc.count), math.MaxUint32))
			continue
		}
		t.Hashes = append(t.Hashes, tc.hash)
		t.Counts = append(t.Counts, tc.count)
	}
	return t, nil
}

// omitCounter is a term dictionary (zap v17's) whose iterator can leave
// out each term's count.
type omitCounter interface {
	AutomatonIteratorOmitCount(a segment.Automaton, startKeyInclusive, endKeyExclusive []byte) segment.DictionaryIterator
}

// appendLive appends to terms every term of dict that a document outside
// deleted (nil: none deleted) holds, with the number of such documents:
// each term's postings list, as Bleve's term reader counts it. (The
// dictionary iterator's own counts cannot be used: besides counting
// deleted documents, zap's iterator reports 1 for every term after a term
// of one document, its reused postings list keeping that term's mark.)
func appendLive(terms []hashCount, dict segment.TermDictionary, deleted *roaring.Bitmap) ([]hashCount, error) {
	var it segment.DictionaryIterator
	if oc, ok := dict.(omitCounter); ok { // no postings read for a count not used
		it = oc.AutomatonIteratorOmitCount(nil, nil, nil)
	} else {
		it = dict.AutomatonIterator(nil, nil, nil)
	}
	var pl segment.PostingsList
	var term []byte
	for {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return terms, nil
		}
		term = append(term[:0], e.Term...)
		if pl, err = dict.PostingsList(term, deleted, pl); err != nil {
			return nil, err
		}
		if n := pl.Count(); n > 0 {
			terms = append(terms, hashCount{hash: protocol.TermHash(e.Term), count: uint32(min(n, math.MaxUint32))})
		}
	}
}
