package rewrite

import (
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/scorer"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// segmented is a scorch snapshot reader (Shoal's own index type embeds one).
type segmented interface {
	Segments() []*scorch.SegmentSnapshot
}

// unionPostings returns the snapshot-wide document numbers (scorch's
// internal ids) of the live documents holding any of terms in field: each
// segment's postings bitmaps OR-ed together, less its deletions, moved to
// the segment's offset.
func unionPostings(r index.IndexReader, field string, terms []string) (*roaring.Bitmap, error) {
	snap, ok := r.(segmented)
	if !ok {
		return unionByReaders(r, field, terms)
	}
	out := roaring.New()
	var offset uint64
	for _, ss := range snap.Segments() {
		seg := ss.Segment()
		local, err := segmentUnion(seg, field, terms)
		if err != nil {
			return nil, err
		}
		if del := ss.Deleted(); del != nil {
			local.AndNot(del)
		}
		if offset > 0 {
			local = roaring.AddOffset64(local, int64(offset))
		}
		out.Or(local)
		offset += seg.Count()
	}
	return out, nil
}

// segmentUnion ORs the postings of terms in one segment.
func segmentUnion(seg segment.Segment, field string, terms []string) (*roaring.Bitmap, error) {
	dict, err := seg.Dictionary(field)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", field, err)
	}
	out := roaring.New()
	if dict == nil {
		return out, nil
	}
	var pl segment.PostingsList
	var it segment.PostingsIterator
	bms := make([]*roaring.Bitmap, 0, 64)
	flush := func() {
		if len(bms) > 0 {
			bms = append(bms, out)
			out = roaring.FastOr(bms...)
			bms = bms[:0]
		}
	}
	for _, t := range terms {
		pl, err = dict.PostingsList([]byte(t), nil, pl)
		if err != nil {
			return nil, err
		}
		if pl == nil {
			continue
		}
		it = pl.Iterator(false, false, false, it)
		if opt, ok := it.(segment.OptimizablePostingsIterator); ok {
			if n, ok := opt.DocNum1Hit(); ok {
				out.Add(uint32(n))
				continue
			}
			if bm := opt.ActualBitmap(); bm != nil {
				bms = append(bms, bm.Clone())
				if len(bms) == cap(bms) {
					flush()
				}
				continue
			}
			continue // an empty postings list
		}
		if err := addPostings(out, it); err != nil {
			return nil, err
		}
	}
	flush()
	return out, nil
}

func addPostings(out *roaring.Bitmap, it segment.PostingsIterator) error {
	for {
		p, err := it.Next()
		if err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		out.Add(uint32(p.Number()))
	}
}

// unionByReaders is the slow path for index readers that are not scorch
// snapshots: the postings through Bleve's term readers.
func unionByReaders(r index.IndexReader, field string, terms []string) (*roaring.Bitmap, error) {
	out := roaring.New()
	var doc index.TermFieldDoc
	for _, t := range terms {
		tfr, err := r.TermFieldReader(nil, []byte(t), field, false, false, false)
		if err != nil {
			return nil, err
		}
		for {
			d, err := tfr.Next(&doc)
			if err != nil {
				tfr.Close()
				return nil, err
			}
			if d == nil {
				break
			}
			n, err := docNumber(d.ID)
			if err != nil {
				tfr.Close()
				return nil, err
			}
			out.Add(n)
		}
		if err := tfr.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func docNumber(id index.IndexInternalID) (uint32, error) {
	if len(id) != 8 {
		return 0, fmt.Errorf("internal id of %d bytes, want 8", len(id))
	}
	n := binary.BigEndian.Uint64(id)
	if n > 1<<32-1 {
		return 0, fmt.Errorf("internal id %d out of range", n)
	}
	return uint32(n), nil
}

// bitmapSearcher walks a bitmap of internal ids at a constant score.
type bitmapSearcher struct {
	bm     *roaring.Bitmap
	it     roaring.IntPeekable
	scorer *scorer.ConstantScorer
	id     [8]byte
}

func newBitmapSearcher(_ index.IndexReader, bm *roaring.Bitmap, boost float64, o search.SearcherOptions) *bitmapSearcher {
	return &bitmapSearcher{bm: bm, it: bm.Iterator(), scorer: scorer.NewConstantScorer(1.0, boost, o)}
}

var bitmapSearcherSize = int(reflect.TypeOf(bitmapSearcher{}).Size())

func (s *bitmapSearcher) next(ctx *search.SearchContext) *search.DocumentMatch {
	if !s.it.HasNext() {
		return nil
	}
	binary.BigEndian.PutUint64(s.id[:], uint64(s.it.Next()))
	return s.scorer.Score(ctx, s.id[:])
}

// Next implements search.Searcher.
func (s *bitmapSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	return s.next(ctx), nil
}

// Advance implements search.Searcher.
func (s *bitmapSearcher) Advance(ctx *search.SearchContext, id index.IndexInternalID) (*search.DocumentMatch, error) {
	n, err := docNumber(id)
	if err != nil {
		return nil, err
	}
	s.it.AdvanceIfNeeded(n)
	return s.next(ctx), nil
}

func (s *bitmapSearcher) Weight() float64            { return s.scorer.Weight() }
func (s *bitmapSearcher) SetQueryNorm(n float64)     { s.scorer.SetQueryNorm(n) }
func (s *bitmapSearcher) Count() uint64              { return s.bm.GetCardinality() }
func (s *bitmapSearcher) Min() int                   { return 0 }
func (s *bitmapSearcher) Close() error               { return nil }
func (s *bitmapSearcher) DocumentMatchPoolSize() int { return 1 }
func (s *bitmapSearcher) Size() int {
	return bitmapSearcherSize + int(s.bm.GetSizeInBytes()) + s.scorer.Size()
}
