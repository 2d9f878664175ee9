package catalog

import (
	"reflect"
	"testing"

	"github.com/shoal-search/shoal/meta"
)

func TestPlace(t *testing.T) {
	tests := []struct {
		name     string
		copies   [][]string
		replicas int
		live     []string
		dead     map[string]bool
		want     [][]string
		changed  bool
	}{
		{"no nodes leaves shards unplaced", [][]string{{}, {}}, 1, nil, nil, [][]string{{}, {}}, false},
		{"spread over nodes", [][]string{{}, {}, {}, {}}, 1, []string{"a", "b"}, nil, [][]string{{"a"}, {"b"}, {"b"}, {"a"}}, true},
		{"replicas on distinct nodes", [][]string{{}, {}}, 2, []string{"a", "b", "c"}, nil, [][]string{{"a", "c"}, {"b", "a"}}, true},
		{"more replicas than nodes", [][]string{{}}, 3, []string{"a", "b"}, nil, [][]string{{"a", "b"}}, true},
		{"dead copies move", [][]string{{"a"}, {"b"}}, 1, []string{"b", "c"}, map[string]bool{"a": true}, [][]string{{"c"}, {"b"}}, true},
		{"stable when complete", [][]string{{"a"}, {"b"}}, 1, []string{"a", "b"}, nil, [][]string{{"a"}, {"b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &meta.ShardMap{Index: "x", Copies: tt.copies}
			changed := Place(m, tt.replicas, tt.live, tt.dead)
			if changed != tt.changed || !reflect.DeepEqual(m.Copies, tt.want) {
				t.Fatalf("got %v (changed %v), want %v (changed %v)", m.Copies, changed, tt.want, tt.changed)
			}
		})
	}
}

// TestPlaceSpreadsPairs checks that replicas are balanced and that copies of
// different shards do not all pair the same nodes: with 8 shards × 2 copies
// on 4 nodes, losing any two nodes must not take out half the index.
func TestPlaceSpreadsPairs(t *testing.T) {
	m := &meta.ShardMap{Index: "books", Copies: make([][]string, 8)}
	for i := range m.Copies {
		m.Copies[i] = []string{}
	}
	Place(m, 2, []string{"s1", "s2", "s3", "s4"}, nil)
	load := map[string]int{}
	pairs := map[[2]string]int{}
	for s, c := range m.Copies {
		if len(c) != 2 || c[0] == c[1] {
			t.Fatalf("shard %d copies %v", s, c)
		}
		load[c[0]]++
		load[c[1]]++
		p := [2]string{c[0], c[1]}
		if p[0] > p[1] {
			p[0], p[1] = p[1], p[0]
		}
		pairs[p]++
	}
	for n, l := range load {
		if l != 4 {
			t.Errorf("node %s holds %d copies, want 4: %v", n, l, m.Copies)
		}
	}
	for p, k := range pairs {
		if k > 2 {
			t.Errorf("nodes %v hold both copies of %d shards: %v", p, k, m.Copies)
		}
	}
}
