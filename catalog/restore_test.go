package catalog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/meta"
)

// TestRestoreDefinitions: a coordinator that opens the catalog puts back
// the definition of an index whose stream is there and whose key the
// bucket never held (the bucket was lost), and never one that was deleted
// (DeleteIndex drops the stream before the key, but a coordinator starting
// meanwhile may have listed the stream first).
func TestRestoreDefinitions(t *testing.T) {
	tests := []struct {
		name string
		// lose takes the index's definition away, as admin.
		lose        func(ctx context.Context, t *testing.T, js jetstream.JetStream)
		wantRestore bool
	}{
		{"bucket lost", func(ctx context.Context, t *testing.T, js jetstream.JetStream) {
			if err := js.DeleteKeyValue(ctx, meta.BucketIndexes); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"key deleted, stream not yet", func(ctx context.Context, t *testing.T, js jetstream.JetStream) {
			kv, err := js.KeyValue(ctx, meta.BucketIndexes)
			if err == nil {
				err = kv.Delete(ctx, "books")
			}
			if err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			connect := testbroker.Closed(ctx, t)
			js := connect.JetStream(t, broker.RoleCoordinator, "")
			first, err := catalog.Open(ctx, js, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			created, err := first.CreateIndex(ctx, meta.IndexDef{Name: "books", Shards: 2, Replicas: 1})
			first.Close()
			if err != nil {
				t.Fatal(err)
			}
			admin := connect.JetStream(t, broker.RoleAdmin, "")
			tt.lose(ctx, t, admin)

			second, err := catalog.Open(ctx, js, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			e, err := second.Buckets().Indexes.Get(ctx, "books")
			switch {
			case !tt.wantRestore && !errors.Is(err, jetstream.ErrKeyNotFound):
				t.Errorf("a deleted index was restored from its stream (err %v)", err)
			case tt.wantRestore && err != nil:
				t.Errorf("the definition was not restored from the stream: %v", err)
			case tt.wantRestore:
				def, err := meta.DecodeIndexDef(e.Value())
				if err != nil || def.UID != created.UID {
					t.Errorf("restored %+v (%v), want uid %s", def, err, created.UID)
				}
			}
		})
	}
}
