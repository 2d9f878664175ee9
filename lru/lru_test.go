package lru_test

import (
	"fmt"
	"testing"

	"github.com/shoal-search/shoal/lru"
)

func TestCacheBoundedInBytes(t *testing.T) {
	tests := []struct {
		name      string
		max       int64
		puts      []int64 // sizes of entries k0, k1, ...
		touch     []int   // keys read after all puts... before the last put
		wantKeys  []int
		wantBytes int64
	}{
		{"fits", 100, []int64{10, 20, 30}, nil, []int{0, 1, 2}, 60},
		{"evicts oldest", 50, []int64{20, 20, 20}, nil, []int{1, 2}, 40},
		{"reading keeps an entry", 50, []int64{20, 20, 20}, []int{0}, []int{0, 2}, 40},
		{"too large is not stored", 50, []int64{10, 60}, nil, []int{0}, 10},
		{"one large evicts many", 50, []int64{10, 10, 10, 45}, nil, []int{3}, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lru.New[string, int](tt.max)
			for i, size := range tt.puts {
				if i == len(tt.puts)-1 {
					for _, k := range tt.touch {
						c.Get(fmt.Sprint("k", k))
					}
				}
				c.Put(fmt.Sprint("k", i), i, size)
			}
			var got []int
			for i := range tt.puts {
				if v, ok := c.Get(fmt.Sprint("k", i)); ok {
					if v != i {
						t.Fatalf("k%d = %d", i, v)
					}
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantKeys) || c.Stats().Bytes != tt.wantBytes {
				t.Fatalf("kept %v (%d bytes), want %v (%d bytes)", got, c.Stats().Bytes, tt.wantKeys, tt.wantBytes)
			}
		})
	}
}

func TestReplaceAndRemove(t *testing.T) {
	c := lru.New[string, string](100)
	c.Put("a", "x", 40)
	c.Put("a", "y", 30)
	c.Put("b", "z", 10)
	if v, _ := c.Get("a"); v != "y" || c.Stats().Bytes != 40 {
		t.Fatalf("replace: %q, %d bytes", v, c.Stats().Bytes)
	}
	c.RemoveIf(func(k, v string) bool { return k == "a" })
	c.Remove("b")
	if s := c.Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Fatalf("after removes: %+v", s)
	}
}
