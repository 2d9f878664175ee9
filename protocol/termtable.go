package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// TermHash is the 64-bit FNV-1a hash under which a term enters a
// TermTable. Shards and coordinators must hash alike: it is part of the
// wire. With 64 bits, two of a million distinct terms collide with a
// probability of about 3·10⁻⁸.
func TermHash(term string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(term); i++ {
		h ^= uint64(term[i])
		h *= prime
	}
	return h
}

// TermTable is one shard's dictionary of one field as global BM25 needs
// it: for every term at least one live document holds, the hash of the
// term (TermHash) and the number of live documents that hold it, in
// increasing order of hash. Its length is the field's number of distinct
// terms, which is what Bleve's BM25 calls the field's cardinality.
type TermTable struct {
	Hashes []uint64
	Counts []uint32
}

// Len is the number of terms in the table.
func (t *TermTable) Len() int { return len(t.Hashes) }

// Count is the number of documents holding the term of hash h (0 if
// none).
func (t *TermTable) Count(h uint64) uint32 {
	lo, hi := 0, len(t.Hashes)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.Hashes[m] < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t.Hashes) && t.Hashes[lo] == h {
		return t.Counts[lo]
	}
	return 0
}

// AppendBinary appends the table's encoding to b: the number of terms,
// then for each term the difference of its hash to the previous one (the
// first: the hash itself) and its count, all as unsigned varints. Sorted
// random 64-bit hashes differ by about 2⁶⁴/n, so a term costs about
// 8 bytes.
func (t *TermTable) AppendBinary(b []byte) ([]byte, error) {
	if len(t.Hashes) != len(t.Counts) {
		return b, errors.New("term table: hashes and counts differ in length")
	}
	b = binary.AppendUvarint(b, uint64(len(t.Hashes)))
	var prev uint64
	for i, h := range t.Hashes {
		if i > 0 && h <= prev {
			return b, errors.New("term table: hashes not in increasing order")
		}
		b = binary.AppendUvarint(b, h-prev)
		b = binary.AppendUvarint(b, uint64(t.Counts[i]))
		prev = h
	}
	return b, nil
}

// DecodeTermTable decodes a table AppendBinary encoded. It fails on
// anything else, without allocating more than the input warrants.
func DecodeTermTable(b []byte) (*TermTable, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("term table: bad length")
	}
	b = b[k:]
	if n > uint64(len(b)/2) { // each term takes at least two bytes
		return nil, fmt.Errorf("term table: %d terms in %d bytes", n, len(b))
	}
	t := &TermTable{Hashes: make([]uint64, n), Counts: make([]uint32, n)}
	var prev uint64
	for i := range t.Hashes {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("term table: term %d: bad hash", i)
		}
		b = b[k:]
		c, k := binary.Uvarint(b)
		if k <= 0 || c > math.MaxUint32 {
			return nil, fmt.Errorf("term table: term %d: bad count", i)
		}
		b = b[k:]
		if (i > 0 && d == 0) || d > math.MaxUint64-prev {
			return nil, fmt.Errorf("term table: term %d: hashes not in increasing order", i)
		}
		prev += d
		t.Hashes[i], t.Counts[i] = prev, uint32(c)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("term table: %d bytes after the last term", len(b))
	}
	return t, nil
}

// MergeTermTables returns the table of the union of a's and b's
// documents: every term of either, with the sum of its counts (capped at
// the largest uint32).
func MergeTermTables(a, b *TermTable) *TermTable {
	out := &TermTable{Hashes: make([]uint64, 0, max(a.Len(), b.Len())), Counts: make([]uint32, 0, max(a.Len(), b.Len()))}
	i, j := 0, 0
	for i < a.Len() && j < b.Len() {
		switch ha, hb := a.Hashes[i], b.Hashes[j]; {
		case ha < hb:
			out.Hashes, out.Counts = append(out.Hashes, ha), append(out.Counts, a.Counts[i])
			i++
		case ha > hb:
			out.Hashes, out.Counts = append(out.Hashes, hb), append(out.Counts, b.Counts[j])
			j++
		default:
			out.Hashes, out.Counts = append(out.Hashes, ha), append(out.Counts, addCapped(a.Counts[i], b.Counts[j]))
			i++
			j++
		}
	}
	out.Hashes, out.Counts = append(out.Hashes, a.Hashes[i:]...), append(out.Counts, a.Counts[i:]...)
	out.Hashes, out.Counts = append(out.Hashes, b.Hashes[j:]...), append(out.Counts, b.Counts[j:]...)
	return out
}

func addCapped(x, y uint32) uint32 {
	if s := x + y; s >= x {
		return s
	}
	return math.MaxUint32
}
