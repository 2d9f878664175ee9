package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testmetrics"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestMetricsMoveOnRealProcesses scrapes the coordinator's /metrics and
// every searcher's --metrics, as Prometheus would, while a broker, three
// searchers and a coordinator run as separate processes: a bulk of N
// documents grows the ingest counter by N and the copies' pending writes
// return to 0; N searches grow shoal_search_requests_total by N; kill -9
// of a searcher under queries grows the failed or failed-over shard
// requests, outcome="partial" for the index whose shards had no other
// copy, and drops shoal_nodes_live.
func TestMetricsMoveOnRealProcesses(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 3, SearcherMetrics: true, HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createIndex(ctx, t, c.Client, "solo", 6, 1)
	createIndex(ctx, t, c.Client, "pair", 3, 2)
	c.WaitReady(ctx, t)
	coord := c.URL + "/metrics"

	const n = 400
	bodies, _ := syntheticBatches(t, 11, n, n)
	for _, index := range []string{"solo", "pair"} {
		if _, err := bulk(ctx, c.Client, index, bodies[0], n, false); err != nil {
			t.Fatalf("bulk %s: %v", index, err)
		}
	}
	if v := testmetrics.Scrape(t, coord).Sum("shoal_ingest_documents_total", "index", "solo", "op", "index"); v != n {
		t.Errorf("shoal_ingest_documents_total{index=solo,op=index} = %v after a bulk of %d", v, n)
	}
	// Every copy applies its writes: pending back to 0, all documents in.
	testwait.For(t, time.Minute, pollEvery, func() error {
		var pending, docs float64
		for _, u := range c.MetricsURL {
			m, err := testmetrics.Fetch(ctx, u)
			if err != nil {
				return err
			}
			pending += m.Sum("shoal_copy_pending_messages", "index", "solo")
			docs += m.Sum("shoal_copy_docs", "index", "solo")
		}
		if pending != 0 || docs != n {
			return fmt.Errorf("solo copies: %v pending, %v documents", pending, docs)
		}
		return nil
	})

	before := testmetrics.Scrape(t, coord)
	const searches = 10
	for i := range searches {
		if r := search(ctx, c.Client, "solo", queryOf(i), 5*time.Second, true); r.err != nil || r.res.Partial {
			t.Fatalf("search %d: %v %+v", i, r.err, r.res)
		}
	}
	mid := testmetrics.Scrape(t, coord)
	if d := mid.Sum("shoal_search_requests_total", "index", "solo", "outcome", "ok") - before.Sum("shoal_search_requests_total", "index", "solo", "outcome", "ok"); d != searches {
		t.Errorf("shoal_search_requests_total{outcome=ok} grew by %v after %d searches", d, searches)
	}
	if v := mid.Sum("shoal_nodes_live"); v != 3 {
		t.Errorf("shoal_nodes_live = %v, want 3", v)
	}

	_, _, shardsOf := placement(ctx, t, c.Client, "solo")
	load := startQueryLoad(ctx, c.Client, "pair", 2, 5*time.Second)
	load.waitCount(ctx, t, 20)
	c.Searcher(t, "s1").Kill(t)
	testwait.For(t, 30*time.Second, pollEvery, func() error {
		if r := search(ctx, c.Client, "solo", "river", 5*time.Second, true); r.err != nil || !r.res.Partial {
			return fmt.Errorf("solo after the kill: partial %v, err %v", r.res != nil && r.res.Partial, r.err)
		}
		return nil
	})
	load.waitCount(ctx, t, load.n.Load()+20)
	load.finish()
	testwait.For(t, 30*time.Second, pollEvery, func() error {
		if v := testmetrics.Scrape(t, coord).Sum("shoal_nodes_live"); v != 2 {
			return fmt.Errorf("shoal_nodes_live = %v", v)
		}
		return nil
	})
	after := testmetrics.Scrape(t, coord)
	if d := after.Sum("shoal_search_requests_total", "index", "solo", "outcome", "partial") - mid.Sum("shoal_search_requests_total", "index", "solo", "outcome", "partial"); d < 1 {
		t.Errorf("partial searches of solo grew by %v", d)
	}
	grown := 0.0
	for _, o := range []string{"failover", "no_responders", "timeout", "error"} {
		grown += after.Sum("shoal_shard_requests_total", "outcome", o) - mid.Sum("shoal_shard_requests_total", "outcome", o)
	}
	if grown < 1 {
		t.Errorf("no shard request failed or failed over after the kill")
	}
	if v := after.Sum("shoal_shards_unserved", "index", "solo"); v != float64(len(shardsOf["s1"])) {
		t.Errorf("shoal_shards_unserved{index=solo} = %v, want the shards of the killed node %v", v, shardsOf["s1"])
	}
}
