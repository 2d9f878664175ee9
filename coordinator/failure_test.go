package coordinator_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testmetrics"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// failureIndex is the index the failure tests search: eight shards over
// four searchers, so every searcher holds two.
const (
	failureIndex  = "failures"
	failureShards = 8
	failureDocs   = 80
)

// failureAnswer is a search answer, or the body of a 503.
type failureAnswer struct {
	Hits []struct {
		ID string `json:"id"`
	} `json:"hits"`
	TotalHits  uint64             `json:"total_hits"`
	Coverage   client.Coverage    `json:"coverage"`
	Shards     client.ShardsInfo  `json:"shards"`
	Partial    bool               `json:"partial"`
	TimedOut   bool               `json:"timed_out"`
	Statistics *client.Statistics `json:"statistics"`
	Error      *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// failureCall sends one request to the cluster's API and decodes the answer;
// it reports the status and how long the answer took.
func failureCall(t *testing.T, method, url, body string) (int, *failureAnswer, time.Duration) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	var a failureAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, url, raw, err)
	}
	return resp.StatusCode, &a, took
}

// TestFailureBehaviour checks what a search answers when part of the
// cluster is slow or gone: within its deadline, with the missing shards
// named exactly and the other shards' hits present, and with 503 and the
// same account when partial answers are not allowed.
func TestFailureBehaviour(t *testing.T) {
	c := testcluster.Start(t, 4, func(o *cluster.Options) { o.Frontend.Metrics = cluster.NewRegistry() })
	api := c.URL() + "/v1/indexes/" + failureIndex
	// inexact is shoal_search_inexact_scores_total of the index.
	inexact := func() float64 {
		return testmetrics.Scrape(t, c.URL()+"/metrics").Sum("shoal_search_inexact_scores_total", "index", failureIndex)
	}

	req, _ := http.NewRequest("PUT", api, strings.NewReader(fmt.Sprintf(`{"shards":%d}`, failureShards)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create index: %d", resp.StatusCode)
	}
	var body strings.Builder
	for i := 0; i < failureDocs; i++ {
		fmt.Fprintf(&body, `{"id":"d%02d","body":"common text number %d"}`+"\n", i, i)
	}
	req, _ = http.NewRequest("POST", api+"/bulk?refresh=wait_for", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), fmt.Sprintf(`"indexed":%d`, failureDocs)) {
		t.Fatalf("bulk: %d %s", resp.StatusCode, raw)
	}

	// Placement as the API reports it: the shards each node holds.
	resp, err = http.Get(api)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		ShardStats []struct {
			Shard int    `json:"shard"`
			Node  string `json:"node"`
		} `json:"shard_stats"`
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	held := map[string][]int{}
	for _, st := range info.ShardStats {
		held[st.Node] = append(held[st.Node], st.Shard)
	}
	if len(info.ShardStats) != failureShards || len(held) != 4 {
		t.Fatalf("placement %+v: want %d shards over 4 nodes", info.ShardStats, failureShards)
	}
	// Coverage counts documents as the heartbeats report them.
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		var sum uint64
		for node, shards := range held {
			for _, s := range shards {
				st, _ := c.Frontend.Catalog.Copy(node, failureIndex, s)
				sum += st.Docs
			}
		}
		if sum != failureDocs {
			return fmt.Errorf("heartbeats count %d documents, want %d", sum, failureDocs)
		}
		return nil
	})
	states := map[string]string{"timeout": "timed_out", "no responders": "unavailable"}

	// expect lists the documents of every shard not in lost, sorted.
	expect := func(lost []int) []string {
		gone := map[int]bool{}
		for _, s := range lost {
			gone[s] = true
		}
		var out []string
		for i := 0; i < failureDocs; i++ {
			id := fmt.Sprintf("d%02d", i)
			if !gone[meta.ShardOf(id, failureShards)] {
				out = append(out, id)
			}
		}
		return out
	}
	// check asserts a partial answer missing exactly the shards of node.
	check := func(t *testing.T, a *failureAnswer, node, reason string) {
		t.Helper()
		lost := held[node]
		if !a.Partial || a.Shards.Total != failureShards || a.Shards.Failed != len(lost) || a.Shards.Successful != failureShards-len(lost) {
			t.Errorf("partial %v, shards %+v: want %d of %d failed", a.Partial, a.Shards, len(lost), failureShards)
		}
		var named []int
		for _, f := range a.Shards.Failures {
			named = append(named, f.Shard)
			if f.Node != node || f.Reason != reason || f.State != states[reason] {
				t.Errorf("failure %+v: want node %s, state %s, reason %q", f, node, states[reason], reason)
			}
		}
		// Coverage: the documents of the shards that answered.
		kept := uint64(len(expect(lost)))
		pct := math.Floor(10000*float64(kept)/failureDocs) / 100
		if a.Coverage.Docs != kept || a.Coverage.Total != failureDocs || a.Coverage.Percent != pct {
			t.Errorf("coverage %+v, want %d of %d documents, %v%%", a.Coverage, kept, failureDocs, pct)
		}
		sort.Ints(named)
		if !reflect.DeepEqual(named, lost) {
			t.Errorf("failures name shards %v, want exactly %v (held by %s)", named, lost, node)
		}
		want := expect(lost)
		var got []string
		for _, h := range a.Hits {
			got = append(got, h.ID)
		}
		sort.Strings(got)
		if a.Error == nil && (!reflect.DeepEqual(got, want) || a.TotalHits != uint64(len(want))) {
			t.Errorf("hits %v (total %d), want the other shards' %v", got, a.TotalHits, want)
		}
	}

	search := "/search?q=body:common&size=100"
	// Warm the statistics cache, so the deadlines below bound the search.
	if status, a, _ := failureCall(t, "GET", api+search, ""); status != http.StatusOK || a.Partial || a.TotalHits != failureDocs {
		t.Fatalf("healthy search: %d %+v", status, a)
	}
	// Healthy: the statistics count every shard, whichever way they are
	// found (term tables, or a presearch round for a fuzzy query); a
	// query that scores nothing has none.
	before := inexact()
	for _, q := range []string{"body:common", "body:comon~1", "*"} {
		status, a, _ := failureCall(t, "GET", api+"/search?size=100&q="+q, "")
		want := &client.Statistics{Exact: true, Shards: failureShards, Missing: []int{}, Stale: []int{}}
		if q == "*" {
			want = nil
		}
		if status != http.StatusOK || !reflect.DeepEqual(a.Statistics, want) {
			t.Errorf("healthy %s: status %d, statistics %+v, want %+v", q, status, a.Statistics, want)
		}
	}
	if d := inexact() - before; d != 0 {
		t.Errorf("shoal_search_inexact_scores_total grew by %v over healthy searches", d)
	}

	t.Run("SlowShard", func(t *testing.T) {
		const slot, node = 1, "searcher-1"
		c.Searcher(slot).SetSearchDelay(2 * time.Second)
		defer c.Searcher(slot).SetSearchDelay(0)

		status, a, took := failureCall(t, "GET", api+search+"&timeout=300ms", "")
		if status != http.StatusOK {
			t.Fatalf("status %d, want 200 with a partial answer: %+v", status, a.Error)
		}
		if took >= 1500*time.Millisecond {
			t.Errorf("answer took %v with timeout=300ms and a shard slow by 2s", took)
		}
		t.Logf("partial answer with a slow shard in %v", took)
		if !a.TimedOut {
			t.Error("timed_out is false")
		}
		check(t, a, node, "timeout")

		status, a, took = failureCall(t, "POST", api+"/search", `{"query":{"match":"common","field":"body"},"size":100,"timeout":"300ms","allow_partial":false}`)
		if status != http.StatusServiceUnavailable || a.Error == nil || a.Error.Type != "shards_unavailable" || !a.TimedOut {
			t.Errorf("allow_partial=false: status %d, error %+v, timed_out %v; want 503 shards_unavailable, timed out", status, a.Error, a.TimedOut)
		}
		if took >= 1500*time.Millisecond {
			t.Errorf("503 took %v", took)
		}
		a.Partial = true // a 503 carries the account, not the flag
		check(t, a, node, "timeout")

		// A timeout of 100ms: the slow shards time out, they do not fail.
		status, a, took = failureCall(t, "GET", api+search+"&timeout=100ms", "")
		if status != http.StatusOK || !a.TimedOut || took >= time.Second {
			t.Fatalf("timeout=100ms: status %d, timed out %v, after %v: %+v", status, a.TimedOut, took, a.Error)
		}
		check(t, a, node, "timeout")
	})

	t.Run("KilledSearcher", func(t *testing.T) {
		const slot, node = 2, "searcher-2"
		if err := c.KillSearcher(slot); err != nil {
			t.Fatal(err)
		}
		waitNoResponders(t, c, protocol.CopySubject(node, failureIndex, held[node][0], protocol.OpStats))

		const timeout = 10 * time.Second
		status, partial, took := failureCall(t, "GET", api+search+"&timeout="+timeout.String(), "")
		if status != http.StatusOK {
			t.Fatalf("status %d, want 200 with a partial answer: %+v", status, partial.Error)
		}
		if took >= timeout/5 {
			t.Errorf("answer took %v of its %v timeout: a dead node must fail at once", took, timeout)
		}
		t.Logf("partial answer with a dead node in %v", took)
		if partial.TimedOut {
			t.Error("timed_out is true for a dead node")
		}
		check(t, partial, node, "no responders")
		// A presearch round (a fuzzy query not seen before) cannot count
		// the dead node's shards: the answer says its scores are
		// approximate, and whose figures they miss.
		before := inexact()
		status, fuzzy, _ := failureCall(t, "GET", api+"/search?size=100&q=body:commn~1&timeout="+timeout.String(), "")
		check(t, fuzzy, node, "no responders")
		want := &client.Statistics{Shards: failureShards - len(held[node]), Missing: held[node], Stale: []int{}}
		if status != http.StatusOK || !reflect.DeepEqual(fuzzy.Statistics, want) {
			t.Errorf("fuzzy with a dead node: status %d, statistics %+v, want %+v", status, fuzzy.Statistics, want)
		}
		if d := inexact() - before; d != 1 {
			t.Errorf("shoal_search_inexact_scores_total grew by %v with approximate scores, want 1", d)
		}

		for _, tt := range []struct{ method, path, body string }{
			{"GET", search + "&allow_partial=false", ""},
			{"POST", "/search", `{"query":{"match":"common","field":"body"},"size":100,"allow_partial":false}`},
		} {
			status, a, took := failureCall(t, tt.method, api+tt.path, tt.body)
			if status != http.StatusServiceUnavailable || a.Error == nil || a.Error.Type != "shards_unavailable" || a.TimedOut {
				t.Errorf("%s %s: status %d, error %+v; want 503 shards_unavailable", tt.method, tt.path, status, a.Error)
			}
			if !reflect.DeepEqual(a.Shards, partial.Shards) {
				t.Errorf("%s %s: 503 account %+v, the partial answer's %+v", tt.method, tt.path, a.Shards, partial.Shards)
			}
			if took >= timeout/5 {
				t.Errorf("%s %s: 503 took %v", tt.method, tt.path, took)
			}
		}

		// A document on a lost shard is unavailable, not missing; one on
		// a live shard is still there.
		for i := 0; i < failureDocs; i++ {
			id := fmt.Sprintf("d%02d", i)
			want := http.StatusOK
			for _, s := range held[node] {
				if meta.ShardOf(id, failureShards) == s {
					want = http.StatusServiceUnavailable
				}
			}
			resp, err := http.Get(api + "/docs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET doc %s: %d, want %d", id, resp.StatusCode, want)
			}
		}
	})

	// A node that dies holding the request never answers it, and NATS,
	// which delivered it, never says "no responders" for it either. The
	// coordinator must find out by asking the shard again rather than wait
	// out the deadline.
	t.Run("DiedWithRequestInHand", func(t *testing.T) {
		const slot, node, dead = 3, "searcher-3", "searcher-2"
		c.Searcher(slot).SetSearchDelay(time.Hour)
		const timeout = 8 * time.Second
		type answer struct {
			status int
			a      *failureAnswer
			took   time.Duration
		}
		delivered, stopWatch := watchRequests(t, c, protocol.NodeSubject(node, protocol.OpSearch))
		done := make(chan answer, 1)
		go func() {
			status, a, took := failureCall(t, "GET", api+search+"&timeout="+timeout.String(), "")
			done <- answer{status, a, took}
		}()
		delivered() // NATS has handed the request to the node
		stopWatch()
		if err := c.KillSearcher(slot); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200 with a partial answer: %+v", r.status, r.a.Error)
		}
		t.Logf("partial answer with a node dead holding the request in %v", r.took)
		if r.took >= timeout/2 {
			t.Errorf("answer took %v of its %v timeout", r.took, timeout)
		}
		lost := append(append([]int(nil), held[dead]...), held[node]...)
		sort.Ints(lost)
		var named []int
		for _, f := range r.a.Shards.Failures {
			named = append(named, f.Shard)
			if f.Node != node && f.Node != dead {
				t.Errorf("failure %+v names a live node", f)
			}
		}
		sort.Ints(named)
		if !reflect.DeepEqual(named, lost) || !r.a.Partial || r.a.TimedOut {
			t.Errorf("failures name shards %v (partial %v, timed out %v), want exactly %v", named, r.a.Partial, r.a.TimedOut, lost)
		}
	})
}

// waitNoResponders waits until NATS answers a request on subject with "no
// responders": the broker has dropped the killed node's subscriptions.
func waitNoResponders(t *testing.T, c *cluster.Cluster, subject string) {
	t.Helper()
	nc := testcluster.Connect(t, c, broker.RoleAdmin, "")
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		_, err := nc.Request(subject, nil, time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil
		}
		return fmt.Errorf("%s still answered after the kill (last: %v)", subject, err)
	})
}

// watchRequests subscribes to subject beside its real subscriber, so a
// test can wait until NATS has delivered a request there. Call the
// returned stop before the subject's node goes away: while the watch is
// on, NATS never answers "no responders" on subject.
func watchRequests(t *testing.T, c *cluster.Cluster, subject string) (next func(), stop func()) {
	t.Helper()
	nc := testcluster.Connect(t, c, broker.RoleAdmin, "")
	sub, err := nc.SubscribeSync(subject)
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	next = func() {
		t.Helper()
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			t.Fatalf("no request on %s: %v", subject, err)
		}
	}
	return next, nc.Close
}
