package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/internal/testwait"
)

// shoalBin is the binary every test runs, built once by TestMain (or taken
// from SHOAL_E2E_BIN).
var shoalBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	bin, cleanup, err := buildShoal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	shoalBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// buildShoal builds cmd/shoal into a temporary directory, unless
// SHOAL_E2E_BIN names a binary to use.
func buildShoal() (string, func(), error) {
	if bin := os.Getenv("SHOAL_E2E_BIN"); bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "shoal-e2e-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "shoal")
	cmd := exec.Command(goCommand(), "build", "-o", bin, "github.com/shoal-search/shoal/cmd/shoal")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build ./cmd/shoal: %w\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// goCommand is the go command that builds the binaries the tests run.
func goCommand() string {
	if goBin, err := exec.LookPath("go"); err == nil {
		return goBin
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real shoal processes; skipped with -short")
	}
}

// searchResult is one search as a client saw it.
type searchResult struct {
	res  *client.SearchResponse
	err  error
	took time.Duration
}

// search runs query-string q with a timeout and allow_partial.
func search(ctx context.Context, c *client.Client, index, q string, timeout time.Duration, allowPartial bool) searchResult {
	size := 10
	req := &client.SearchRequest{Query: client.QueryString(q), Size: &size, Timeout: timeout.String(), AllowPartial: &allowPartial}
	start := time.Now()
	res, err := c.Search(ctx, index, req)
	return searchResult{res: res, err: err, took: time.Since(start)}
}

// createIndex creates an index with the sample mapping.
func createIndex(ctx context.Context, t testing.TB, c *client.Client, name string, shards, replicas int) {
	t.Helper()
	m, err := json.Marshal(corpus.SampleMapping())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateIndex(ctx, name, client.IndexSettings{Shards: shards, Replicas: replicas, Mapping: m}); err != nil {
		t.Fatalf("create index %s: %v", name, err)
	}
}

// sampleBatches reads the built-in sample corpus into NDJSON batches of at
// most size documents, with the ids of each batch.
func sampleBatches(t testing.TB, size int) ([][]byte, [][]string) {
	t.Helper()
	r := corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{})
	var bodies [][]byte
	var ids [][]string
	var buf bytes.Buffer
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			ids = append(ids, cur)
		}
		buf.Reset()
		cur = nil
	}
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.Err != nil {
			continue
		}
		buf.Write(d.Body)
		buf.WriteByte('\n')
		cur = append(cur, d.ID)
		if len(cur) == size {
			flush()
		}
	}
	flush()
	return bodies, ids
}

// syntheticBatches generates n synthetic documents as NDJSON batches.
func syntheticBatches(t testing.TB, seed int64, n, size int) ([][]byte, [][]string) {
	t.Helper()
	var all bytes.Buffer
	if err := corpus.Synthetic(seed, n, &all); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	var ids [][]string
	var buf bytes.Buffer
	var cur []string
	sc := bufio.NewScanner(&all)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil || d.ID == "" {
			t.Fatalf("synthetic line %q: %v", sc.Text(), err)
		}
		buf.Write(sc.Bytes())
		buf.WriteByte('\n')
		cur = append(cur, d.ID)
		if len(cur) == size {
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			ids = append(ids, cur)
			buf.Reset()
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cur) > 0 {
		bodies = append(bodies, bytes.Clone(buf.Bytes()))
		ids = append(ids, cur)
	}
	return bodies, ids
}

// bulk sends one NDJSON batch until the server has acknowledged every
// document in it, retrying while the server is unreachable or unavailable
// (a coordinator being restarted) and resending the batch when some
// documents were not stored. It returns the number of retries.
func bulk(ctx context.Context, c *client.Client, index string, body []byte, n int, wait bool) (int, error) {
	retries := 0
	backoff := 20 * time.Millisecond
	for {
		res, err := c.Bulk(ctx, index, body, wait)
		switch {
		case err == nil && res.Failed == 0 && res.Indexed == n:
			return retries, nil
		case err == nil:
			err = fmt.Errorf("indexed %d of %d, failed %d: %v", res.Indexed, n, res.Failed, res.Errors)
		case !client.IsUnavailable(err):
			return retries, err
		}
		retries++
		if retries > 500 {
			return retries, fmt.Errorf("bulk: giving up after %d retries: %w", retries, err)
		}
		select {
		case <-ctx.Done():
			return retries, fmt.Errorf("bulk: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
}

// loadSample loads the whole sample corpus into index, each batch waiting
// until searchable, and returns the ids.
func loadSample(ctx context.Context, t testing.TB, c *client.Client, index string) []string {
	t.Helper()
	bodies, ids := sampleBatches(t, 1000)
	var all []string
	for i, b := range bodies {
		if _, err := bulk(ctx, c, index, b, len(ids[i]), true); err != nil {
			t.Fatalf("bulk batch %d: %v", i, err)
		}
		all = append(all, ids[i]...)
	}
	return all
}

// placement reads GET /v1/indexes/{index}: the nodes of each shard and
// the shards of each node.
func placement(ctx context.Context, t testing.TB, c *client.Client, index string) (*client.IndexInfo, map[int][]string, map[string][]int) {
	t.Helper()
	info, err := c.GetIndex(ctx, index)
	if err != nil {
		t.Fatalf("get index %s: %v", index, err)
	}
	byShard := map[int][]string{}
	byNode := map[string][]int{}
	for _, st := range info.ShardStats {
		if st.Node == "" {
			continue
		}
		byShard[st.Shard] = append(byShard[st.Shard], st.Node)
		byNode[st.Node] = append(byNode[st.Node], st.Shard)
	}
	for _, s := range byNode {
		sort.Ints(s)
	}
	return info, byShard, byNode
}

// failedShards returns the sorted shard numbers of a response's failures.
func failedShards(r *client.SearchResponse) []int {
	var out []int
	for _, f := range r.Shards.Failures {
		out = append(out, f.Shard)
	}
	sort.Ints(out)
	return out
}

// mustFull fails unless r is a complete answer with hits.
func mustFull(t testing.TB, r searchResult, shards int) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("search: %v", r.err)
	}
	if r.res.Partial || r.res.Shards.Successful != shards || r.res.TotalHits == 0 {
		t.Fatalf("want a full answer with hits from %d shards, got partial=%v shards=%+v total=%d", shards, r.res.Partial, r.res.Shards, r.res.TotalHits)
	}
}

// queryWords are common words of the sample corpus (the Go standard
// library's documentation); pairs of them make many distinct queries, so
// that searches do not all ask the same.
var queryWords = strings.Fields(`http client reader writer json time duration error string buffer
	file context server request response encode decode bytes slice map sort sync mutex channel close
	open read write parse format template crypto hash tls certificate network address path directory
	unicode rune compress gzip archive zip image color math float random test signal process
	environment header cookie url query value pointer interface method type function package`)

func queryOf(i int) string {
	a := queryWords[i%len(queryWords)]
	b := queryWords[(i/len(queryWords)+i*7)%len(queryWords)]
	return a + " " + b
}

// TestKillSearcherAnswersPartialAtOnce kills one of four searcher
// processes with SIGKILL and checks that the very next searches answer at
// once with partial:true, naming exactly the dead node's shards, and that
// allow_partial=false gives 503 with the same account.
func TestKillSearcherAnswersPartialAtOnce(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index, shards = "kill9", 8
	createIndex(ctx, t, c.Client, index, shards, 1)
	ids := loadSample(ctx, t, c.Client, index)
	c.WaitReady(ctx, t)
	if len(ids) < 4000 {
		t.Fatalf("sample corpus has only %d documents", len(ids))
	}
	mustFull(t, search(ctx, c.Client, index, "http client", 2*time.Second, true), shards)
	// Sample ids hold slashes (go:net/http.Client.Do): fetch one by id.
	if i := slices.IndexFunc(ids, func(id string) bool { return strings.Contains(id, "/") }); i >= 0 {
		doc, err := c.Client.GetDoc(ctx, index, ids[i])
		if err != nil || !bytes.Contains(doc, []byte(ids[i])) {
			t.Errorf("GET document %q: %v %.100s", ids[i], err, doc)
		}
	}

	_, _, byNode := placement(ctx, t, c.Client, index)
	victim := ""
	for _, s := range c.Searchers {
		if victim == "" || len(byNode[s.Name]) > len(byNode[victim]) {
			victim = s.Name
		}
	}
	want := byNode[victim]
	if len(want) == 0 {
		t.Fatalf("no searcher holds a shard: %v", byNode)
	}
	info := coverageBeforeKill(ctx, t, c, index)
	c.Searcher(t, victim).Kill(t)

	var worst time.Duration
	for i, q := range []string{"json decoder", "http client", "tls certificate", "gzip reader", "sort slice"} {
		r := search(ctx, c.Client, index, q, 2*time.Second, true)
		if r.err != nil {
			t.Fatalf("search %d after kill -9 %s: %v", i, victim, r.err)
		}
		worst = max(worst, r.took)
		if i == 0 {
			t.Logf("first search after kill -9 of %s (shards %v): %v, partial=%v, failures %v", victim, want, r.took.Round(time.Microsecond), r.res.Partial, r.res.Shards.Failures)
		}
		if r.took >= time.Second {
			t.Errorf("search %q after kill -9 took %v; want well under the 2s timeout", q, r.took)
		}
		if !r.res.Partial || r.res.TimedOut {
			t.Errorf("search %q after kill -9: partial=%v timed_out=%v; want partial, not timed out", q, r.res.Partial, r.res.TimedOut)
		}
		if got := failedShards(r.res); !slices.Equal(got, want) {
			t.Errorf("search %q: failed shards %v, want exactly %s's shards %v", q, got, victim, want)
		}
		for _, f := range r.res.Shards.Failures {
			if f.Node != victim {
				t.Errorf("failure %v names node %q, want %q", f, f.Node, victim)
			}
		}
		if r.res.Shards.Successful != shards-len(want) || r.res.TotalHits == 0 {
			t.Errorf("search %q: shards %+v total %d; want hits from the %d live shards", q, r.res.Shards, r.res.TotalHits, shards-len(want))
		}
	}
	t.Logf("kill -9 partial-response latency: worst of 5 searches %v (timeout 2s)", worst.Round(time.Microsecond))
	checkCoverage(ctx, t, c, index, info, want)

	r := search(ctx, c.Client, index, "http client", 2*time.Second, false)
	var apiErr *client.APIError
	if !errors.As(r.err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Fatalf("allow_partial=false after kill -9: got %v, want 503", r.err)
	}
	if r.took >= time.Second {
		t.Errorf("allow_partial=false answered in %v; want well under the 2s timeout", r.took)
	}
	var body struct {
		Shards client.ShardsInfo `json:"shards"`
	}
	if err := json.Unmarshal(apiErr.Body, &body); err != nil {
		t.Fatalf("503 body %s: %v", apiErr.Body, err)
	}
	var got []int
	for _, f := range body.Shards.Failures {
		got = append(got, f.Shard)
	}
	sort.Ints(got)
	if !slices.Equal(got, want) || body.Shards.Failed != len(want) {
		t.Errorf("503 shard account %+v; want failures on shards %v", body.Shards, want)
	}
}

// queryLoad is a client issuing searches non-stop from a few goroutines.
type queryLoad struct {
	n       atomic.Int64
	mu      sync.Mutex
	failed  []string
	partial []string
	worst   time.Duration
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startQueryLoad(ctx context.Context, c *client.Client, index string, workers int, timeout time.Duration) *queryLoad {
	l := &queryLoad{stop: make(chan struct{})}
	var seq atomic.Int64
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				q := queryOf(int(seq.Add(1)))
				r := search(ctx, c, index, q, timeout, true)
				l.mu.Lock()
				l.worst = max(l.worst, r.took)
				switch {
				case r.err != nil:
					if ctx.Err() == nil {
						l.failed = append(l.failed, fmt.Sprintf("%q after %v: %v", q, r.took, r.err))
					}
				case r.res.Partial:
					l.partial = append(l.partial, fmt.Sprintf("%q after %v: %v", q, r.took, r.res.Shards.Failures))
				}
				l.mu.Unlock()
				l.n.Add(1)
			}
		}()
	}
	return l
}

// waitCount waits until the load has issued at least n queries.
func (l *queryLoad) waitCount(ctx context.Context, t testing.TB, n int64) {
	t.Helper()
	testwait.For(t, time.Minute, pollEvery, func() error {
		if got := l.n.Load(); got < n {
			return fmt.Errorf("%d queries, waiting for %d", got, n)
		}
		return nil
	})
}

func (l *queryLoad) finish() (n int64, failed, partial []string, worst time.Duration) {
	close(l.stop)
	l.wg.Wait()
	return l.n.Load(), l.failed, l.partial, l.worst
}

// TestReplicasHideKilledSearcher runs queries non-stop against an index
// with two copies of every shard while one searcher process is killed:
// not one query may fail or come back partial. Then a second node is
// killed so that some shard has lost both copies: answers must say
// partial:true naming exactly those shards, at once.
func TestReplicasHideKilledSearcher(t *testing.T) {
	skipShort(t)
	// Healing off: the second kill must find the placement as it was.
	c := StartCluster(t, shoalBin, Options{HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index, shards = "replicas", 8
	createIndex(ctx, t, c.Client, index, shards, 2)
	loadSample(ctx, t, c.Client, index)
	c.WaitReady(ctx, t)
	mustFull(t, search(ctx, c.Client, index, "http client", 2*time.Second, true), shards)

	_, byShard, byNode := placement(ctx, t, c.Client, index)
	for s := 0; s < shards; s++ {
		if n := byShard[s]; len(n) != 2 || n[0] == n[1] {
			t.Fatalf("shard %d copies on %v; want two different nodes", s, n)
		}
	}
	first := "s1"
	t.Logf("placement: %v", byNode)

	load := startQueryLoad(ctx, c.Client, index, 2, 2*time.Second)
	load.waitCount(ctx, t, 200)
	c.Searcher(t, first).Kill(t)
	killedAt, before := time.Now(), load.n.Load()
	// Keep querying for at least 3s and 300 queries after the kill, at most
	// 10s or 2,000 queries in all.
	testwait.For(t, time.Minute, pollEvery, func() error {
		n := load.n.Load()
		if (n-before >= 300 && time.Since(killedAt) >= 3*time.Second) || n >= 2000 || time.Since(killedAt) >= 10*time.Second {
			return nil
		}
		return fmt.Errorf("%d queries after the kill", n-before)
	})
	n, failed, partial, worst := load.finish()
	t.Logf("kill -9 %s under load: %d queries (%d after the kill over %v), %d failed, %d partial, slowest %v",
		first, n, n-before, time.Since(killedAt).Round(time.Millisecond), len(failed), len(partial), worst.Round(time.Millisecond))
	if len(failed) > 0 || len(partial) > 0 {
		t.Errorf("with a second copy of every shard, kill -9 of %s cost %d failed and %d partial queries; first: %v %v",
			first, len(failed), len(partial), head(failed), head(partial))
	}

	// The second victim is the live node sharing the most shards with the
	// first: those shards now have no copy at all.
	second, lost := "", []int(nil)
	for _, s := range c.Searchers {
		if s.Name == first {
			continue
		}
		var both []int
		for sh, nodes := range byShard {
			if slices.Contains(nodes, first) && slices.Contains(nodes, s.Name) {
				both = append(both, sh)
			}
		}
		if len(both) > len(lost) {
			second, lost = s.Name, both
		}
	}
	if second == "" {
		t.Fatalf("no node shares a shard with %s: %v", first, byShard)
	}
	sort.Ints(lost)
	c.Searcher(t, second).Kill(t)
	for i := 0; i < 20; i++ {
		q := queryOf(1000 + i)
		r := search(ctx, c.Client, index, q, 2*time.Second, true)
		if r.err != nil {
			t.Fatalf("search %q with shards %v lost (%s and %s killed): %v", q, lost, first, second, r.err)
		}
		if i == 0 {
			t.Logf("kill -9 %s too: shards %v have no copy; search answered in %v with failures %v", second, lost, r.took.Round(time.Microsecond), r.res.Shards.Failures)
		}
		if r.took >= time.Second || !r.res.Partial || r.res.TimedOut {
			t.Errorf("search %q: took %v partial=%v timed_out=%v; want partial at once", q, r.took, r.res.Partial, r.res.TimedOut)
		}
		if got := failedShards(r.res); !slices.Equal(got, lost) {
			t.Errorf("search %q: failed shards %v, want exactly %v", q, got, lost)
		}
	}
}

func head(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestHealRestoresFullCoverage takes a searcher away for good, killed
// (SIGKILL) or stopped cleanly (SIGTERM: it removes its own heartbeat), and
// measures how long until every shard is served again at full coverage by
// the other nodes (the coordinator runs with --node-timeout 2s
// --heal-after 6s).
func TestHealRestoresFullCoverage(t *testing.T) {
	skipShort(t)
	for _, tt := range []struct {
		name string
		how  string
		stop func(*Proc, testing.TB)
	}{
		{"kill", "kill -9", (*Proc).Kill},
		{"stop", "SIGTERM", (*Proc).Stop},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testHeal(t, tt.how, tt.stop)
		})
	}
}

func testHeal(t *testing.T, how string, stop func(*Proc, testing.TB)) {
	const healAfter = 6 * time.Second
	c := StartCluster(t, shoalBin, Options{NodeTimeout: 2 * time.Second, HealAfter: healAfter})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index, shards = "heal", 8
	createIndex(ctx, t, c.Client, index, shards, 1)
	ids := loadSample(ctx, t, c.Client, index)
	c.WaitReady(ctx, t)
	mustFull(t, search(ctx, c.Client, index, "http client", 2*time.Second, true), shards)
	_, _, byNode := placement(ctx, t, c.Client, index)
	const victim = "s2"
	lost := byNode[victim]
	if len(lost) == 0 {
		t.Fatalf("%s holds no shard: %v", victim, byNode)
	}

	stop(c.Searcher(t, victim), t)
	gone := time.Now()
	r := search(ctx, c.Client, index, "http client", 2*time.Second, true)
	if r.err != nil || !r.res.Partial {
		t.Fatalf("right after %s of %s: err=%v partial=%v; want a partial answer", how, victim, r.err, r.res != nil && r.res.Partial)
	}
	// Full coverage: /readyz answers 200 again after it noticed the loss,
	// and a search is answered by every shard.
	var unready, full time.Duration
	testwait.For(t, healAfter+15*time.Second, pollEvery, func() error {
		ok, state := c.Ready(ctx)
		if !ok && unready == 0 {
			unready = time.Since(gone)
		}
		if !ok || unready == 0 {
			return fmt.Errorf("no full coverage after the node loss: /readyz %s", state)
		}
		r := search(ctx, c.Client, index, queryOf(int(time.Since(gone))), 2*time.Second, true)
		if r.err != nil || r.res.Partial || r.res.Shards.Successful != shards {
			return fmt.Errorf("no full coverage after the node loss: search: %v %+v", r.err, r.res)
		}
		full = time.Since(gone)
		return nil
	})
	t.Logf("time to full coverage after %s of %s (shards %v; node-timeout 2s, heal-after %v): /readyz 503 after %v, full coverage (readyz 200, partial:false) after %v",
		how, victim, lost, healAfter, unready.Round(time.Millisecond), full.Round(time.Millisecond))
	if full < healAfter {
		t.Errorf("full coverage after %v, before heal-after %v: was the node really gone?", full, healAfter)
	}

	info, _, after := placement(ctx, t, c.Client, index)
	if len(after[victim]) > 0 {
		t.Errorf("departed node %s still holds shards %v", victim, after[victim])
	}
	if info.Docs != uint64(len(ids)) {
		t.Errorf("index holds %d documents after healing, want %d", info.Docs, len(ids))
	}
	for i := 0; i < 5; i++ {
		mustFull(t, search(ctx, c.Client, index, queryOf(i), 2*time.Second, true), shards)
	}
}

// TestBulkLoadSurvivesKills bulk-loads synthetic documents (10,000; 50,000
// with SHOAL_E2E_FULL=1) into an index with two copies of every shard while
// searchers (twice), the coordinator and the broker (the only one, so all
// clients reconnect) are killed with SIGKILL and restarted. Afterwards the
// count is exact, every acknowledged document can be fetched and found, and
// both copies of every shard hold the same documents.
func TestBulkLoadSurvivesKills(t *testing.T) {
	skipShort(t)
	n := 10_000
	if os.Getenv("SHOAL_E2E_FULL") == "1" {
		n = 50_000
	}
	c := StartCluster(t, shoalBin, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const index, shards = "crash", 8
	createIndex(ctx, t, c.Client, index, shards, 2)
	c.WaitReady(ctx, t)
	bodies, batchIDs := syntheticBatches(t, 42, n, 1000)

	start := time.Now()
	var acked atomic.Int64
	var ackedIDs []string
	var retries int
	var loadErr error
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i, b := range bodies {
			r, err := bulk(ctx, c.Client, index, b, len(batchIDs[i]), false)
			retries += r
			if err != nil {
				loadErr = fmt.Errorf("batch %d: %w", i, err)
				return
			}
			ackedIDs = append(ackedIDs, batchIDs[i]...)
			acked.Add(int64(len(batchIDs[i])))
		}
	}()
	at := func(frac float64, what string) {
		t.Helper()
		testwait.For(t, 2*time.Minute, pollEvery, func() error {
			select {
			case <-loadDone:
				if loadErr != nil {
					t.Fatalf("bulk load: %v", loadErr)
				}
			default:
			}
			if got := acked.Load(); got < int64(frac*float64(n)) {
				return fmt.Errorf("before %q: %d acknowledged", what, got)
			}
			return nil
		})
		t.Logf("%6v  %6d acknowledged: %s", time.Since(start).Round(time.Millisecond), acked.Load(), what)
	}
	s2, s3 := c.Searcher(t, "s2"), c.Searcher(t, "s3")
	at(0.2, "kill -9 searcher s2")
	s2.Kill(t)
	at(0.35, "restart searcher s2")
	s2.Start(t)
	at(0.5, "kill -9 the coordinator, restart it")
	c.Coordinator.Kill(t)
	c.Coordinator.Start(t)
	at(0.7, "kill -9 searcher s3 and restart it")
	s3.Kill(t)
	s3.Start(t)
	at(0.85, "kill -9 the broker and restart it")
	c.Broker.Kill(t)
	c.Broker.Start(t)
	<-loadDone
	if loadErr != nil {
		t.Fatalf("bulk load: %v", loadErr)
	}
	loaded := time.Since(start)
	t.Logf("%6v  all %d documents acknowledged (%d bulk retries)", loaded.Round(time.Millisecond), len(ackedIDs), retries)

	// Wait until every copy of every shard has caught up.
	var info *client.IndexInfo
	testwait.For(t, 2*time.Minute, pollEvery, func() error {
		var err error
		info, err = c.Client.GetIndex(ctx, index)
		if err != nil {
			return err
		}
		if ok, state := converged(info, shards, uint64(n)); !ok {
			return fmt.Errorf("copies not caught up: %s", state)
		}
		return nil
	})
	t.Logf("%6v  converged: %d documents, copies %s", time.Since(start).Round(time.Millisecond), info.Docs, copySummary(info))
	if info.Docs != uint64(len(ackedIDs)) {
		t.Fatalf("index counts %d documents, %d were acknowledged", info.Docs, len(ackedIDs))
	}
	c.WaitReady(ctx, t)

	// Only the n generated ids were ever written, so a count of n means
	// each is there exactly once; check a sample by fetching and finding.
	all := searchIDs(ctx, t, c.Client, index, []byte(`{"match_all":{}}`), 0)
	if all != uint64(n) {
		t.Errorf("match_all finds %d documents, want %d", all, n)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	sample := make([]string, 300)
	for i := range sample {
		sample[i] = ackedIDs[rng.IntN(len(ackedIDs))]
	}
	for _, id := range sample {
		doc, err := c.Client.GetDoc(ctx, index, id)
		if err != nil {
			t.Fatalf("GET document %s: %v", id, err)
		}
		var d struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(doc, &d); err != nil || d.ID != id {
			t.Fatalf("GET document %s: got %s (%v)", id, doc, err)
		}
	}
	q, _ := json.Marshal(map[string]any{"ids": sample})
	distinct := map[string]bool{}
	for _, id := range sample {
		distinct[id] = true
	}
	if got := searchIDs(ctx, t, c.Client, index, q, len(sample)); got != uint64(len(distinct)) {
		t.Errorf("searching for %d sampled ids finds %d", len(distinct), got)
	}
	t.Logf("bulk load with kills: %d documents acknowledged, %d counted, %d found by match_all, %d/%d sampled ids fetched and found; load %v",
		len(ackedIDs), info.Docs, all, len(distinct), len(distinct), loaded.Round(time.Millisecond))
}

// converged reports whether every shard has all its copies live and
// caught up with the same documents and sequence, and the total is want.
func converged(info *client.IndexInfo, shards int, want uint64) (bool, string) {
	type copyState struct {
		docs, seq uint64
	}
	per := map[int][]copyState{}
	for _, st := range info.ShardStats {
		if st.Node == "" || !st.CaughtUp {
			return false, fmt.Sprintf("shard %d copy on %q not caught up", st.Shard, st.Node)
		}
		per[st.Shard] = append(per[st.Shard], copyState{st.Docs, st.AppliedSeq})
	}
	for s := 0; s < shards; s++ {
		cs := per[s]
		if len(cs) != 2 {
			return false, fmt.Sprintf("shard %d has %d copies", s, len(cs))
		}
		if cs[0] != cs[1] {
			return false, fmt.Sprintf("shard %d copies differ: %+v", s, cs)
		}
	}
	return info.Docs == want, fmt.Sprintf("%d documents of %d", info.Docs, want)
}

func copySummary(info *client.IndexInfo) string {
	var b strings.Builder
	for _, st := range info.ShardStats {
		fmt.Fprintf(&b, "%d/%s=%d ", st.Shard, st.Node, st.Docs)
	}
	return strings.TrimSpace(b.String())
}

// searchIDs runs a JSON query and returns its total_hits, insisting on a
// full answer.
func searchIDs(ctx context.Context, t testing.TB, c *client.Client, index string, query json.RawMessage, size int) uint64 {
	t.Helper()
	res, err := c.Search(ctx, index, &client.SearchRequest{Query: query, Size: &size, Timeout: "10s"})
	if err != nil {
		t.Fatalf("search %s: %v", query, err)
	}
	if res.Partial {
		t.Fatalf("search %s: partial answer %+v", query, res.Shards)
	}
	return res.TotalHits
}
