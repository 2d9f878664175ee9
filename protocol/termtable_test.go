package protocol

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

func TestTermTableRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		tab  TermTable
	}{
		{"empty", TermTable{}},
		{"one", TermTable{Hashes: []uint64{42}, Counts: []uint32{7}}},
		{"extremes", TermTable{Hashes: []uint64{0, 1, math.MaxUint64}, Counts: []uint32{math.MaxUint32, 0, 1}}},
		{"hashes", TermTable{Hashes: []uint64{TermHash("a"), TermHash("b"), TermHash("river")}, Counts: []uint32{1, 2, 3}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab := tt.tab
			order := make([]int, tab.Len())
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(a, b int) int { return cmpU64(tab.Hashes[a], tab.Hashes[b]) })
			sorted := TermTable{}
			for _, i := range order {
				sorted.Hashes, sorted.Counts = append(sorted.Hashes, tab.Hashes[i]), append(sorted.Counts, tab.Counts[i])
			}
			raw, err := sorted.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeTermTable(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Hashes, sorted.Hashes) || !slices.Equal(got.Counts, sorted.Counts) {
				t.Fatalf("decoded %+v, want %+v", got, sorted)
			}
			for i, h := range sorted.Hashes {
				if c := got.Count(h); c != sorted.Counts[i] {
					t.Errorf("Count(%d) = %d, want %d", h, c, sorted.Counts[i])
				}
			}
		})
	}
	if _, err := (&TermTable{Hashes: []uint64{2, 1}, Counts: []uint32{1, 1}}).AppendBinary(nil); err == nil {
		t.Error("a table out of order was encoded")
	}
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestMergeTermTables(t *testing.T) {
	a := &TermTable{Hashes: []uint64{1, 3, 5}, Counts: []uint32{1, 1, math.MaxUint32}}
	b := &TermTable{Hashes: []uint64{2, 3, 5, 9}, Counts: []uint32{4, 2, 3, 1}}
	m := MergeTermTables(a, b)
	if want := []uint64{1, 2, 3, 5, 9}; !slices.Equal(m.Hashes, want) {
		t.Fatalf("hashes %v, want %v", m.Hashes, want)
	}
	if want := []uint32{1, 4, 3, math.MaxUint32, 1}; !slices.Equal(m.Counts, want) {
		t.Fatalf("counts %v, want %v (sums capped)", m.Counts, want)
	}
	if c := m.Count(4); c != 0 {
		t.Errorf("Count of an absent hash = %d", c)
	}
}

func TestDecodeTermTableRefuses(t *testing.T) {
	good, _ := (&TermTable{Hashes: []uint64{5, 9}, Counts: []uint32{1, 2}}).AppendBinary(nil)
	for _, tt := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"too many terms", []byte{100, 1, 1}},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"repeated hash", []byte{2, 5, 1, 0, 1}},
		{"count too large", []byte{1, 5, 0x80, 0x80, 0x80, 0x80, 0x10}},
		{"hash overflow", append([]byte{2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1}, 2, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeTermTable(tt.raw); err == nil {
				t.Errorf("decoded % x", tt.raw)
			}
		})
	}
}

// FuzzDecodeTermTable: arbitrary bytes decode to a valid table (which
// encodes back to the same bytes) or fail.
func FuzzDecodeTermTable(f *testing.F) {
	good, _ := (&TermTable{Hashes: []uint64{5, 9, math.MaxUint64}, Counts: []uint32{1, 2, 3}}).AppendBinary(nil)
	f.Add(good)
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := DecodeTermTable(data)
		if err != nil {
			return
		}
		for i := 1; i < tab.Len(); i++ {
			if tab.Hashes[i] <= tab.Hashes[i-1] {
				t.Fatalf("decoded hashes out of order: %v", tab.Hashes)
			}
		}
		raw, err := tab.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeTermTable(raw)
		if err != nil || !slices.Equal(again.Hashes, tab.Hashes) || !slices.Equal(again.Counts, tab.Counts) {
			t.Fatalf("re-encoded table differs: %v", err)
		}
	})
}
