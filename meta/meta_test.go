package meta_test

import (
	"testing"

	"github.com/shoal-search/shoal/meta"
)

// TestShardOfGolden pins the routing function: a document written before an
// upgrade must be found on the same shard after it, so these values must
// never change.
func TestShardOfGolden(t *testing.T) {
	tests := []struct {
		id     string
		shards int
		want   int
	}{
		{"", 4, 1}, // FNV-1a offset basis 14695981039346656037
		{"", 8, 5},
		{"", 1024, 805},
		{"a", 4, 0},
		{"a", 8, 4},
		{"a", 1024, 140},
		{"doc-1", 4, 3},
		{"doc-1", 8, 3},
		{"doc-1", 1024, 667},
		{"go:net/http.Client.Do", 4, 3},
		{"go:net/http.Client.Do", 8, 7},
		{"go:net/http.Client.Do", 1024, 303},
		{"héllo", 8, 0},
		{"héllo", 1024, 224},
		{"42", 8, 3},
		{"42", 1024, 547},
		{"anything", 1, 0},
	}
	for _, tt := range tests {
		if got := meta.ShardOf(tt.id, tt.shards); got != tt.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tt.id, tt.shards, got, tt.want)
		}
	}
}
