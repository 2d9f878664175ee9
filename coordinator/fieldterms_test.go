package coordinator

import (
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

func TestTermSetsDistinct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	common := make([]uint32, 5000)
	for i := range common {
		common[i] = rng.Uint32()
	}
	ts := newTermSets(1 << 30)
	want := map[uint32]bool{}
	put := func(shard int, values []uint32) {
		t.Helper()
		bm := roaring.BitmapOf(values...)
		raw, err := bm.ToBytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.put("uid", shard, "_all", 1, raw); err != nil {
			t.Fatal(err)
		}
	}
	for s := range 4 {
		var values []uint32
		for _, v := range common {
			if rng.IntN(3) == 0 {
				values = append(values, v)
			}
		}
		for range 2000 {
			values = append(values, rng.Uint32())
		}
		for _, v := range values {
			want[v] = true
		}
		put(s, values)
	}
	shards := []int{0, 1, 2, 3}
	for range 2 { // computed, then memoized
		if n, ok := ts.distinct("uid", shards, "_all"); !ok || n != len(want) {
			t.Fatalf("distinct = %d, %v; want %d", n, ok, len(want))
		}
	}
	// A changed set invalidates the memo.
	put(3, []uint32{1, 2, 3})
	if n, _ := ts.distinct("uid", []int{3}, "_all"); n != 3 {
		t.Fatalf("after put: distinct = %d, want 3", n)
	}
	if _, ok := ts.distinct("uid", []int{0, 9}, "_all"); ok {
		t.Fatal("distinct over a shard without a set must not be known")
	}
	if got := unionSize(nil); got != 0 {
		t.Fatalf("unionSize(nil) = %d", got)
	}
}

func TestMergeSorted(t *testing.T) {
	tests := []struct {
		a, b, want []uint32
	}{
		{nil, nil, []uint32{}},
		{[]uint32{1, 3}, nil, []uint32{1, 3}},
		{[]uint32{1, 3, 5}, []uint32{2, 3, 6, 7}, []uint32{1, 2, 3, 5, 6, 7}},
		{[]uint32{4}, []uint32{1, 2, 4}, []uint32{1, 2, 4}},
	}
	for _, tt := range tests {
		got := mergeSorted(tt.a, tt.b)
		if len(got) != len(tt.want) {
			t.Fatalf("mergeSorted(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("mergeSorted(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		}
	}
}
