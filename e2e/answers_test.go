package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/internal/testwait"
)

// How complete and how fresh answers are, seen from outside real
// processes: coverage after a kill -9 (checkCoverage, called by
// TestKillSearcherAnswersPartialAtOnce) and read-your-writes.

// coverageBeforeKill returns the index's copies with their document counts
// once a search's coverage counts all of them: the coordinator takes the
// counts from heartbeats, which follow the copies within a second.
func coverageBeforeKill(ctx context.Context, t *testing.T, c *Cluster, index string) *client.IndexInfo {
	t.Helper()
	info, _, _ := placement(ctx, t, c.Client, index)
	testwait.For(t, 10*time.Second, 50*time.Millisecond, func() error {
		r := search(ctx, c.Client, index, "http client", 2*time.Second, true)
		if r.err != nil {
			return r.err
		}
		if cov := r.res.Coverage; cov.Total != info.Docs || cov.Docs != info.Docs || cov.Percent != 100 {
			return fmt.Errorf("coverage %+v of a full answer, want all %d documents, 100%%", cov, info.Docs)
		}
		return nil
	})
	return info
}

// checkCoverage searches index with the shards lost gone (their searcher
// killed): the coverage is the surviving copies' share of the documents,
// within 0.1; min_coverage above it is a 503 carrying the account and the
// coverage, below it a partial answer; GET and POST alike.
func checkCoverage(ctx context.Context, t *testing.T, c *Cluster, index string, info *client.IndexInfo, lost []int) {
	t.Helper()
	var total, kept uint64
	gone := map[int]bool{}
	for _, s := range lost {
		gone[s] = true
	}
	for _, st := range info.ShardStats {
		total += st.Docs
		if !gone[st.Shard] {
			kept += st.Docs
		}
	}
	share := 100 * float64(kept) / float64(total)
	r := search(ctx, c.Client, index, "http client", 2*time.Second, true)
	if r.err != nil {
		t.Fatal(r.err)
	}
	cov := r.res.Coverage
	t.Logf("coverage after kill -9: %+v; the surviving copies hold %.3f%% of %d documents", cov, share, total)
	if math.Abs(cov.Percent-share) > 0.1 || cov.Total != total {
		t.Errorf("coverage %+v, want %.2f%% of %d documents (within 0.1)", cov, share, total)
	}
	for _, f := range r.res.Shards.Failures {
		if f.State != client.StateUnavailable {
			t.Errorf("failure %v: want state unavailable for a killed searcher", f)
		}
	}
	above, below := math.Min(share+1, 100), math.Max(share-1, 0)
	for _, tt := range []struct {
		name   string
		min    float64
		status int
	}{{"above", above, http.StatusServiceUnavailable}, {"below", below, http.StatusOK}} {
		for _, post := range []bool{false, true} {
			status, body := coverageSearch(ctx, t, c, index, tt.min, post)
			var a struct {
				Coverage client.Coverage   `json:"coverage"`
				Shards   client.ShardsInfo `json:"shards"`
				Partial  bool              `json:"partial"`
			}
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("min_coverage %v: %s: %v", tt.min, body, err)
			}
			if status != tt.status || a.Coverage != cov || a.Shards.Failed != len(lost) || tt.status == http.StatusOK && !a.Partial {
				t.Errorf("min_coverage %.2f (%s the coverage, POST %v): %d %s; want %d with coverage %+v and the account",
					tt.min, tt.name, post, status, body, tt.status, cov)
			}
		}
	}
}

// coverageSearch searches index for "http client" with min_coverage, by
// GET or by POST, and returns the status and body.
func coverageSearch(ctx context.Context, t *testing.T, c *Cluster, index string, minCoverage float64, post bool) (int, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if post {
		body := fmt.Sprintf(`{"query":{"query":"http client"},"min_coverage":%v}`, minCoverage)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/indexes/"+index+"/search", strings.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/indexes/%s/search?q=http+client&min_coverage=%v", c.URL, index, minCoverage), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// TestReadYourWrites writes 1,000 new documents one at a time, without
// refresh, each searched for at once with its write's token by a word only
// it holds: every one is found. It then does the same without the token
// and reports how often the search missed. Two searchers, four shards of
// two copies each, so a search may reach either copy.
func TestReadYourWrites(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const index, shards, writes = "ryw", 4, 1000
	createIndex(ctx, t, c.Client, index, shards, 2)
	c.WaitReady(ctx, t)

	run := func(prefix string, withToken bool) (missed int, took time.Duration) {
		start := time.Now()
		for i := range writes {
			word := fmt.Sprintf("%s%d", prefix, i)
			w, err := c.Client.PutDoc(ctx, index, word, map[string]string{"title": word}, false)
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			req := &client.SearchRequest{Query: client.QueryString(word), Timeout: "5s"}
			if withToken {
				req.After = w.Token
			}
			res, err := c.Client.Search(ctx, index, req)
			if err != nil {
				t.Fatalf("search %d: %v", i, err)
			}
			if res.Partial {
				t.Fatalf("search %d: partial %+v", i, res.Shards)
			}
			if res.TotalHits != 1 {
				missed++
			}
		}
		return missed, time.Since(start)
	}
	missed, took := run("zqxafter", true)
	t.Logf("with after=<token>: %d of %d writes missed by the search right after (%v for all)", missed, writes, took.Round(time.Millisecond))
	if missed > 0 {
		t.Errorf("with after=<token>, %d of %d searches missed the write just made", missed, writes)
	}
	missed, took = run("zqxplain", false)
	t.Logf("without after: %d of %d writes missed by the search right after (%.1f%%; %v for all)",
		missed, writes, 100*float64(missed)/writes, took.Round(time.Millisecond))
}
