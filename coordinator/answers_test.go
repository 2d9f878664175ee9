package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/searcher"
)

// createReplicated creates index with one shard and replicas copies and
// waits until every copy is live and caught up.
func createReplicated(ctx context.Context, t *testing.T, cl *client.Client, index string, replicas int) {
	t.Helper()
	if err := cl.CreateIndex(ctx, index, client.IndexSettings{Shards: 1, Replicas: replicas}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		info, err := cl.GetIndex(ctx, index)
		if err != nil {
			return err
		}
		n := 0
		for _, st := range info.ShardStats {
			if st.Live && st.CaughtUp {
				n++
			}
		}
		if n != replicas {
			return fmt.Errorf("%d of %d copies live and caught up: %+v", n, replicas, info.ShardStats)
		}
		return nil
	})
}

// nodeOf returns the searcher of c named name.
func nodeOf(t *testing.T, c *cluster.Cluster, name string) *searcher.Node {
	t.Helper()
	for i := range c.Searchers() {
		if n := c.Searcher(i); n != nil && n.Name() == name {
			return n
		}
	}
	t.Fatalf("no searcher %s", name)
	return nil
}

// put writes one document without waiting for it to be searchable and
// returns the write's token.
func put(ctx context.Context, t *testing.T, cl *client.Client, index, id, body string) string {
	t.Helper()
	res, err := cl.PutDoc(ctx, index, id, map[string]string{"body": body}, false)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

// TestReadYourWritesWithACopyBehind holds one copy of a shard behind its
// stream (its consumer paused) and checks what a search with a write's
// token answers: with another copy up to date, that copy answers, every
// time; with none, the shard is reported "behind", never answered stale.
// max_lag keeps searches off the lagging copy altogether.
func TestReadYourWritesWithACopyBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testcluster.Start(t, 2)
	cl := client.New(c.URL())
	createReplicated(ctx, t, cl, "twins", 2)
	held := c.Searcher(0)
	held.Faults().PauseConsumers()
	defer held.Faults().ResumeConsumers()

	// max_lag: once the held copy reports its lag, searches skip it, so
	// every one sees every write; without max_lag some go to it.
	const writes = 20
	for i := range writes {
		put(ctx, t, cl, "twins", fmt.Sprintf("lag%d", i), "zqxlag")
	}
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		st, ok := c.Frontend.Catalog.Copy(held.Name(), "twins", 0)
		if !ok || st.Pending < writes {
			return fmt.Errorf("held copy reports %d writes pending, want %d", st.Pending, writes)
		}
		return nil
	})
	lag := uint64(writes / 2)
	stale := 0
	for i := range 20 {
		res, err := cl.Search(ctx, "twins", &client.SearchRequest{Query: client.QueryString("zqxlag"), MaxLag: &lag})
		if err != nil || res.TotalHits != writes || res.Partial {
			t.Fatalf("search %d with max_lag %d: %+v %v; want all %d writes from the copy up to date", i, lag, res, err, writes)
		}
		res, err = cl.Search(ctx, "twins", &client.SearchRequest{Query: client.QueryString("zqxlag")})
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalHits < writes {
			stale++
		}
	}
	t.Logf("without after or max_lag, %d of 20 searches were answered by the copy held behind", stale)
	if stale == 0 {
		t.Error("no search without max_lag went to the copy held behind: the check above proves nothing")
	}

	// after: every write is found at once, from the copy up to date.
	for i := range writes {
		word := fmt.Sprintf("zqxtwin%d", i)
		tok := put(ctx, t, cl, "twins", word, word)
		res, err := cl.Search(ctx, "twins", &client.SearchRequest{Query: client.QueryString(word), After: tok, Timeout: "1s"})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if res.TotalHits != 1 || res.Partial {
			t.Fatalf("write %d: %d hits, partial %v (%+v): the up-to-date copy must answer", i, res.TotalHits, res.Partial, res.Shards)
		}
	}
	held.Faults().ResumeConsumers()

	t.Run("NoCopyUpToDate", func(t *testing.T) { checkBehind(ctx, t, c, cl) })
}

// checkBehind writes to a one-copy index whose copy is held behind: a
// search with the write's token reports the shard behind (having waited
// inside its time for the copy to catch up), and so does a get.
func checkBehind(ctx context.Context, t *testing.T, c *cluster.Cluster, cl *client.Client) {
	createReplicated(ctx, t, cl, "single", 1)
	info, err := cl.GetIndex(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	node := nodeOf(t, c, info.ShardStats[0].Node)
	node.Faults().PauseConsumers()
	defer node.Faults().ResumeConsumers()
	tok := put(ctx, t, cl, "single", "lonely", "zqxlonely")

	start := time.Now()
	res, err := cl.Search(ctx, "single", &client.SearchRequest{Query: client.QueryString("zqxlonely"), After: tok, Timeout: "600ms"})
	took := time.Since(start)
	var apiErr *client.APIError
	// One shard, not answered: the search fails with the account.
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable || !strings.Contains(string(apiErr.Body), `"state":"behind"`) {
		t.Fatalf("search with a token no copy has: %+v %v; want 503 with the shard behind", res, err)
	}
	if took >= time.Second {
		t.Errorf("the behind answer took %v with a 600ms timeout", took)
	}
	resp, err := http.Get(c.URL() + "/v1/indexes/single/docs/lonely?timeout=600ms&after=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"state":"behind"`) {
		t.Errorf("get by id with the token: %d %s; want 503 with the shard behind", resp.StatusCode, body)
	}
	// Without the token the copy answers at once, with what it has.
	if res, err := cl.Search(ctx, "single", &client.SearchRequest{Query: client.QueryString("zqxlonely")}); err != nil || res.Partial || res.TotalHits != 0 {
		t.Errorf("search without the token: %+v %v; want a full answer without the write", res, err)
	}
}

// TestHedgeCancelsTheLoser makes one copy of a shard hang (an injected
// delay of an hour) on a coordinator whose latency estimates and hedging
// budget are warm: searches are answered by the other copy within the
// search's time, the coordinator cancels the request it no longer waits
// for, and the hanging node stops working on it.
func TestHedgeCancelsTheLoser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testcluster.Start(t, 2)
	cl := client.New(c.URL())
	createReplicated(ctx, t, cl, "hedged", 2)
	for i := range 10 {
		put(ctx, t, cl, "hedged", fmt.Sprint(i), "common words")
	}
	req := &client.SearchRequest{Query: client.QueryString("common"), Timeout: "5s"}
	for range 100 { // latency estimates of both nodes, and a budget
		if _, err := cl.Search(ctx, "hedged", req); err != nil {
			t.Fatal(err)
		}
	}
	slow := c.Searcher(0)
	slow.SetSearchDelay(time.Hour)
	defer slow.SetSearchDelay(0)
	coord := c.Frontend.Coordinator
	_, hedges0 := coord.Counters()
	cancels0 := coord.Cancels()
	// Hedges of the warm-up (adaptive hedging may send some) may have
	// cancelled searches on this node already: count from here.
	cancelled0 := slow.CancelledSearches()

	testwait.For(t, 30*time.Second, time.Millisecond, func() error {
		start := time.Now()
		res, err := cl.Search(ctx, "hedged", req)
		if err != nil {
			return err
		}
		if res.Partial || time.Since(start) > 2*time.Second {
			t.Fatalf("search with one copy hanging: partial %v after %v", res.Partial, time.Since(start))
		}
		if slow.CancelledSearches() == cancelled0 {
			return errors.New("the hanging node has had no search cancelled yet")
		}
		return nil
	})
	_, hedges := coord.Counters()
	if hedges == hedges0 || coord.Cancels() == cancels0 {
		t.Errorf("%d hedges, %d cancels sent: want both", hedges-hedges0, coord.Cancels()-cancels0)
	}
	// The node does not hold the search until its timeout: it stopped.
	testwait.For(t, time.Second, 5*time.Millisecond, func() error {
		if n := slow.CancellableSearches(); n != 0 {
			return fmt.Errorf("the hanging node still runs %d searches", n)
		}
		return nil
	})
}
