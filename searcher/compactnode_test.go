package searcher_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testmetrics"
	"github.com/shoal-search/shoal/internal/testwait"
)

// compactIndex is the index of TestIdleCopiesAreCompacted.
const compactIndex = "compact"

// TestIdleCopiesAreCompacted: once an index stops taking writes, its node
// merges every copy into one segment, and queries score as on a cluster
// that keeps the same documents in several segments (each cluster with a
// coordinator and caches of its own).
func TestIdleCopiesAreCompacted(t *testing.T) {
	queries := []string{"river", "water stone", `"bank water"`, "hors~1", "win*", "+garden -light", "title:field body:number"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Several segments: compaction off, scorch's own merging settled.
	split := loadCompactCluster(ctx, t, -1)
	if last := testwait.Steady(t, time.Minute, 100*time.Millisecond, 5, split.segments); last <= 1 {
		t.Fatalf("%v segments once settled, want several", last)
	}
	before := split.search(ctx, queries)
	// The same documents, compacted.
	merged := loadCompactCluster(ctx, t, time.Second)
	testwait.For(t, time.Minute, 100*time.Millisecond, func() error {
		if n := merged.segments(); n != 1 {
			return fmt.Errorf("%v segments in an idle shard", n)
		}
		return nil
	})
	if n := merged.scrape().Sum("shoal_copy_compactions_total", "index", compactIndex); n < 1 {
		t.Errorf("%v compactions counted, want at least 1", n)
	}
	after := merged.search(ctx, queries)
	for _, q := range queries {
		if err := sameScores(before[q], after[q]); err != nil {
			t.Errorf("%s: compaction changed the answer: %v", q, err)
		}
	}
}

// compactCluster is a one-searcher cluster holding compactIndex.
type compactCluster struct {
	t  *testing.T
	c  *cluster.Cluster
	cl *client.Client
}

// loadCompactCluster starts a cluster whose searcher compacts after
// compactAfter, and loads the same documents into compactIndex (one
// shard) in batches.
func loadCompactCluster(ctx context.Context, t *testing.T, compactAfter time.Duration) compactCluster {
	const batches, perBatch = 12, 1000
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Metrics = cluster.NewRegistry()
		o.Searcher.CompactAfter = compactAfter
	})
	cl := client.New(c.URL())
	if err := cl.CreateIndex(ctx, compactIndex, client.IndexSettings{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	words := strings.Fields("river bank water stone light field house horse winter garden")
	for b := range batches {
		var body strings.Builder
		for i := range perBatch {
			n := b*perBatch + i
			fmt.Fprintf(&body, `{"id":"d%d","title":"%s %s","body":"%s %s %s number %d"}`+"\n", n,
				words[n%7], words[n%10], words[n%3], words[(n/3)%10], words[(n/7)%10], n)
		}
		if res, err := cl.Bulk(ctx, compactIndex, []byte(body.String()), true); err != nil || res.Indexed != perBatch {
			t.Fatalf("bulk %d: %+v %v", b, res, err)
		}
		// Each batch its own segment on disk: scorch persists the
		// in-memory segments it has in one.
		time.Sleep(200 * time.Millisecond)
	}
	return compactCluster{t: t, c: c, cl: cl}
}

func (cc compactCluster) scrape() testmetrics.Families {
	return testmetrics.Scrape(cc.t, cc.c.URL()+"/metrics")
}

// segments counts the segments of compactIndex's copy.
func (cc compactCluster) segments() float64 {
	return cc.scrape().Sum("shoal_copy_segments", "index", compactIndex)
}

// search asks each query once its statistics count every write
// (Statistics.Exact; until the coordinator has them, answers say they do
// not), and returns the hits by query.
func (cc compactCluster) search(ctx context.Context, queries []string) map[string][]client.Hit {
	out := map[string][]client.Hit{}
	for _, q := range queries {
		testwait.For(cc.t, 10*time.Second, 20*time.Millisecond, func() error {
			res, err := cc.cl.SearchQuery(ctx, compactIndex, q, 20, 0)
			switch {
			case err != nil:
				cc.t.Fatalf("%s: %v", q, err)
			case len(res.Hits) == 0:
				cc.t.Fatalf("%s: no hits", q)
			case res.Statistics != nil && !res.Statistics.Exact:
				return fmt.Errorf("%s: statistics %+v", q, res.Statistics)
			}
			out[q] = res.Hits
			return nil
		})
	}
	return out
}

// sameScores says whether two answers have the same scores in the same
// order, and give each document both hold the same score. Documents tied
// on score may come in another order: a tie goes to the lower internal
// document number, which merging segments renumbers (as in Elasticsearch,
// a sort on a unique field is what makes ties stable).
func sameScores(a, b []client.Hit) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d hits, then %d", len(a), len(b))
	}
	score := map[string]float64{}
	for i := range a {
		if a[i].Score != b[i].Score {
			return fmt.Errorf("hit %d scored %v, then %v", i, a[i].Score, b[i].Score)
		}
		score[a[i].ID] = a[i].Score
	}
	for _, h := range b {
		if s, ok := score[h.ID]; ok && s != h.Score {
			return fmt.Errorf("%s scored %v, then %v", h.ID, s, h.Score)
		}
	}
	return nil
}
