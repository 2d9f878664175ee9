package searcher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// TestCopyOpenedAfterFailedStart: a node told to hold a shard whose
// definition it cannot read yet (as when the broker is away) keeps trying,
// and opens the copy once the definition can be read, without any further
// change to the placement.
func TestCopyOpenedAfterFailedStart(t *testing.T) {
	// The node's log says when it has seen the placement and failed.
	logs := &syncBuffer{}
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc := testcluster.Connect(t, c, broker.RoleAdmin, "")
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
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		if l := logs.String(); !strings.Contains(l, `msg="shard copies" node=`+node.Name()+" index="+index) {
			return fmt.Errorf("the node has not failed to open the copy yet; log:\n%s", l)
		}
		return nil
	})
	if holds() {
		t.Fatal("copy opened without an index definition")
	}
	def, _ := json.Marshal(meta.IndexDef{Name: index, UID: "0123456789abcdef", Shards: 1, Replicas: 1, Created: time.Now()})
	if _, err := buckets.Indexes.Put(ctx, index, def); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 20*time.Second, 50*time.Millisecond, func() error {
		if !holds() {
			return errors.New("the node never opened the copy once its definition was there")
		}
		return nil
	})
}

// syncBuffer is a bytes.Buffer that goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
