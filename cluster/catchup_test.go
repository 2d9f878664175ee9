package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// TestNewReplicaCatchesUp creates an index with two copies per shard while
// only one searcher runs, loads it, then starts a second searcher: the
// missing copies are placed on it, rebuilt by replaying the shard streams,
// and serve only once caught up, with the same document counts. It logs
// the catch-up time (SHOAL_CATCHUP_DOCS sets the size; 100,000 for the
// figure in the closing note).
func TestNewReplicaCatchesUp(t *testing.T) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SHOAL_CATCHUP_DOCS")); err == nil && v > 0 {
		n = v
	}
	c := testcluster.Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.StopSearcher(1); err != nil {
		t.Fatal(err)
	}
	// Wait until the stopped node no longer counts as live.
	testwait.For(t, time.Minute, 50*time.Millisecond, func() error {
		if live := c.Frontend.Catalog.LiveNodes(); len(live) != 1 {
			return fmt.Errorf("live nodes: %v", live)
		}
		return nil
	})
	if _, err := c.Frontend.Catalog.CreateIndex(ctx, meta.IndexDef{Name: "rep", Shards: 4, Replicas: 2}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := corpus.Synthetic(3, n, &buf); err != nil {
		t.Fatal(err)
	}
	r := corpus.NewReader(&buf, corpus.ReaderOptions{})
	var ops []indexer.Op
	for {
		d, err := r.Next()
		if err != nil {
			break
		}
		ops = append(ops, indexer.Op{ID: d.ID, Doc: d.Body})
	}
	for i := 0; i < len(ops); i += 5000 {
		res, err := c.Frontend.Indexer.Write(ctx, "rep", ops[i:min(i+5000, len(ops))])
		if err != nil || res.Failed > 0 {
			t.Fatalf("write: %v %+v", err, res.Errors)
		}
		if err := c.Frontend.Indexer.WaitSearchable(ctx, "rep", res); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.StartSearcher(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var total uint64 // documents in the index once caught up
	perShard := map[int][]uint64{}
	testwait.For(t, 10*time.Minute, 100*time.Millisecond, func() error {
		info, err := c.Frontend.Coordinator.IndexInfo(ctx, "rep")
		if err != nil {
			t.Fatal(err)
		}
		caught := 0
		clear(perShard)
		for _, st := range info.ShardStats {
			if st.Live && st.CaughtUp {
				caught++
				perShard[st.Shard] = append(perShard[st.Shard], st.Docs)
			}
		}
		if caught != 8 {
			return fmt.Errorf("copies not caught up: %+v", info.ShardStats)
		}
		total = info.Docs
		return nil
	})
	el := time.Since(start)
	t.Logf("a new copy of every shard caught up on %d documents in %s (%.0f docs/s)", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	for s, docs := range perShard {
		if docs[0] != docs[1] {
			t.Errorf("shard %d copies hold %v documents", s, docs)
		}
	}
	if total != uint64(n) {
		t.Errorf("index holds %d documents, want %d", total, n)
	}
}
