package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/meta"
)

// TestLostMapOfDeletedIndex: the placement of an index found without a
// shard map (placeLost) is made after it checked that the index exists;
// an index deleted in between must not be left with a map of its own.
// putLostMap is what runs after the check, here on an index deleted
// already, and on one that still exists.
func TestLostMapOfDeletedIndex(t *testing.T) {
	for _, tt := range []struct {
		name     string
		deleteIt bool
		wantMap  bool
	}{
		{"deleted meanwhile", true, false},
		{"still there", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			connect := testbroker.Closed(ctx, t)
			cat, err := Open(ctx, connect.JetStream(t, broker.RoleCoordinator, ""), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			def, err := cat.CreateIndex(ctx, meta.IndexDef{Name: "books", Shards: 2, Replicas: 1})
			if err != nil {
				t.Fatal(err)
			}
			if tt.deleteIt {
				if err := cat.DeleteIndex(ctx, "books"); err != nil {
					t.Fatal(err)
				}
			} else if err := cat.buckets.Placement.Delete(ctx, "books"); err != nil {
				t.Fatal(err) // the map lost, the index still there
			}
			m := &meta.ShardMap{Index: "books", Copies: [][]string{{}, {}}}
			if got := cat.putLostMap(ctx, def, m); got != tt.wantMap {
				t.Errorf("putLostMap reports the map stays: %v, want %v", got, tt.wantMap)
			}
			_, err = cat.buckets.Placement.Get(ctx, "books")
			if has := err == nil; has != tt.wantMap || (err != nil && !errors.Is(err, jetstream.ErrKeyNotFound)) {
				t.Errorf("a shard map of books is in the bucket: %v (%v), want %v", has, err, tt.wantMap)
			}
		})
	}
}
