package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
)

func TestSampleEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{DataDir: t.TempDir(), NATSListen: "127.0.0.1:-1", Searchers: 3, Frontend: cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.Frontend.LoadSample(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n < 3000 {
		t.Fatalf("loaded %d docs", n)
	}
	req := bleve.NewSearchRequest(bleve.NewQueryStringQuery("http client"))
	res, err := c.Frontend.Coordinator.Search(ctx, cluster.SampleIndex, coordinator.Request{Search: req, AllowPartial: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.TotalHits == 0 || res.Partial {
		t.Fatalf("bad result: %+v", res)
	}
	t.Logf("total %d, top %s %.3f, took %dms", res.TotalHits, res.Hits[0].ID, res.Hits[0].Score, res.TookMS)
}
