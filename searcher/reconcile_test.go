package searcher_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/meta"
)

// TestCopyOpenedAfterFailedStart: a node told to hold a shard whose
// definition it cannot read yet (as when the broker is away) keeps trying,
// and opens the copy once the definition can be read, without any further
// change to the placement.
func TestCopyOpenedAfterFailedStart(t *testing.T) {
	c := testcluster.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(c.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node := c.Searcher(0)
	const index = "late"
	m, _ := json.Marshal(meta.ShardMap{Index: index, Copies: [][]string{{node.Name()}}})
	if _, err := buckets.Placement.Put(ctx, index, m); err != nil {
		t.Fatal(err)
	}
	holds := func() bool {
		for _, cp := range node.Status().Copies {
			if cp.Index == index && cp.Shard == 0 {
				return true
			}
		}
		return false
	}
	time.Sleep(1500 * time.Millisecond) // the node has seen the placement and failed
	if holds() {
		t.Fatal("copy opened without an index definition")
	}
	def, _ := json.Marshal(meta.IndexDef{Name: index, UID: "0123456789abcdef", Shards: 1, Replicas: 1, Created: time.Now()})
	if _, err := buckets.Indexes.Put(ctx, index, def); err != nil {
		t.Fatal(err)
	}
	for !holds() {
		select {
		case <-ctx.Done():
			t.Fatal("the node never opened the copy once its definition was there")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
