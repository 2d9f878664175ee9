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

// TestIdleCopiesAreCompacted: once an index stops taking writes, its
// node merges every copy into one segment, and the same queries give the
// same scores as before.
func TestIdleCopiesAreCompacted(t *testing.T) {
	const index, shards, batches, perBatch = "compact", 1, 10, 1000
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Metrics = cluster.NewRegistry()
		o.Searcher.CompactAfter = 5 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := client.New(c.URL())
	if err := cl.CreateIndex(ctx, index, client.IndexSettings{Shards: shards}); err != nil {
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
		if res, err := cl.Bulk(ctx, index, []byte(body.String()), true); err != nil || res.Indexed != perBatch {
			t.Fatalf("bulk %d: %+v %v", b, res, err)
		}
		// Each batch its own segment on disk: scorch persists the
		// in-memory segments it has in one.
		time.Sleep(200 * time.Millisecond)
	}
	segments := func() float64 {
		return testmetrics.Scrape(t, c.URL()+"/metrics").Sum("shoal_copy_segments", "index", index)
	}
	// Scorch's own merging settles first (persisted segments stay).
	last, steady := segments(), 0
	for steady < 5 {
		time.Sleep(100 * time.Millisecond)
		n := segments()
		if n == last {
			steady++
		} else {
			last, steady = n, 0
		}
	}
	if last <= shards {
		t.Fatalf("%v segments in %d shards after %d batches, want more than one a shard", last, shards, batches)
	}
	// Scores count every shard's latest writes once the coordinator has
	// them (Statistics.Exact); until then, answers say they do not.
	queries := []string{"river", "water stone", `"bank water"`, "hors~1", "win*", "+garden -light", "title:field body:number"}
	search := func() map[string][]client.Hit {
		out := map[string][]client.Hit{}
		for _, q := range queries {
			testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
				res, err := cl.SearchQuery(ctx, index, q, 20, 0)
				switch {
				case err != nil:
					t.Fatalf("%s: %v", q, err)
				case len(res.Hits) == 0:
					t.Fatalf("%s: no hits", q)
				case res.Statistics != nil && !res.Statistics.Exact:
					return fmt.Errorf("%s: statistics %+v", q, res.Statistics)
				}
				out[q] = res.Hits
				return nil
			})
		}
		return out
	}
	before := search()
	if n := segments(); n <= shards {
		t.Fatalf("%v segments in %d shards once searched: compacted too early to compare", n, shards)
	}
	testwait.For(t, time.Minute, 100*time.Millisecond, func() error {
		if n := segments(); n != shards {
			return fmt.Errorf("%v segments in %d idle shards", n, shards)
		}
		return nil
	})
	if n := testmetrics.Scrape(t, c.URL()+"/metrics").Sum("shoal_copy_compactions_total", "index", index); n < 1 {
		t.Errorf("%v compactions counted, want at least 1", n)
	}
	after := search()
	for _, q := range queries {
		if err := sameScores(before[q], after[q]); err != nil {
			t.Errorf("%s: compaction changed the answer: %v", q, err)
		}
	}
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
