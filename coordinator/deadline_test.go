package coordinator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/meta"
)

// TestParsingInsideDeadline: parsing a query string is part of a search's
// deadline. With the length limit raised so that a query string takes long
// to parse, a search with a short timeout answers when its deadline passes,
// not when the parse ends; so does one whose client goes away.
func TestParsingInsideDeadline(t *testing.T) {
	c := testcluster.Start(t, 1, func(o *cluster.Options) { o.Frontend.Coordinator.MaxQueryString = 4 << 20 })
	ctx := context.Background()
	if _, err := c.Frontend.Catalog.CreateIndex(ctx, meta.IndexDef{Name: "slow", Shards: 1, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	// A query string long enough that parsing it takes a while here.
	qs := strings.Repeat("a ", 10_000)
	var parse time.Duration
	for parse < 200*time.Millisecond && len(qs) < 2<<20 {
		qs += qs
		start := time.Now()
		if _, err := bquery.NewQueryStringQuery(qs).Parse(); err != nil {
			t.Fatal(err)
		}
		parse = time.Since(start)
	}
	search := func(ctx context.Context, timeout time.Duration) (time.Duration, error) {
		start := time.Now()
		_, err := c.Frontend.Coordinator.Search(ctx, "slow", coordinator.Request{
			Search: bleve.NewSearchRequest(bquery.NewQueryStringQuery(qs)), Timeout: timeout, Start: start,
		})
		return time.Since(start), err
	}
	took, err := search(ctx, coordinator.MinTimeout)
	if !errors.Is(err, context.DeadlineExceeded) || took > parse/2 {
		t.Fatalf("a search with a %v timeout whose parse takes %v: %v after %v", coordinator.MinTimeout, parse, err, took)
	}
	gone, leave := context.WithCancel(ctx)
	time.AfterFunc(coordinator.MinTimeout, leave)
	took, err = search(gone, time.Minute)
	if !errors.Is(err, context.Canceled) || took > parse/2 {
		t.Fatalf("a search whose client left after %v, parse %v: %v after %v", coordinator.MinTimeout, parse, err, took)
	}
	t.Logf("parsing %d bytes takes %v; the searches ended after their deadline", len(qs), parse)
}
