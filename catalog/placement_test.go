package catalog

import (
	"reflect"
	"testing"

	"github.com/shoal-search/shoal/broker"
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
		{"spread over nodes", [][]string{{}, {}, {}, {}}, 1, []string{"a", "b"}, nil, [][]string{{"a"}, {"b"}, {"a"}, {"b"}}, true},
		{"replicas on distinct nodes", [][]string{{}, {}}, 2, []string{"a", "b", "c"}, nil, [][]string{{"a", "b"}, {"c", "a"}}, true},
		{"more replicas than nodes", [][]string{{}}, 3, []string{"a", "b"}, nil, [][]string{{"a", "b"}}, true},
		{"dead copies move", [][]string{{"a"}, {"b"}}, 1, []string{"b", "c"}, map[string]bool{"a": true}, [][]string{{"c"}, {"b"}}, true},
		{"stable when complete", [][]string{{"a"}, {"b"}}, 1, []string{"a", "b"}, nil, [][]string{{"a"}, {"b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &broker.ShardMap{Index: "x", Copies: tt.copies}
			changed := Place(m, tt.replicas, tt.live, tt.dead)
			if changed != tt.changed || !reflect.DeepEqual(m.Copies, tt.want) {
				t.Fatalf("got %v (changed %v), want %v (changed %v)", m.Copies, changed, tt.want, tt.changed)
			}
		})
	}
}
