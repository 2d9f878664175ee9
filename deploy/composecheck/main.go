// Command composecheck is the outside observer of deploy/compose-test.sh: it
// talks to a Shoal coordinator over its HTTP API only (through the port
// compose.yaml publishes on 127.0.0.1) and checks what a user would see
// while the script kills, disconnects and restarts containers.
//
//	composecheck ready   -url U [-nodes 4]              wait for /readyz 200 and live searchers
//	composecheck load    -url U -index I                create I, load the sample corpus, print the count
//	composecheck pick    -url U -index I                print two searchers that share no shard
//	composecheck queries -url U -index I -for 10s       search non-stop; -expect full|answer
//	composecheck write   -url U -index I -n 500         bulk-write extra documents, retrying
//	composecheck healed  -url U -index I -without NODE  wait until every shard has all its copies elsewhere
//	composecheck count   -url U -index I -want N        wait until the count is exact and copies agree
//	composecheck jsinfo  -nats URL -index I             check the JetStream cluster (run inside the compose network)
//	composecheck freeport                               print a free TCP port on 127.0.0.1
//
// Every check prints one line of figures and exits with status 1 when the
// promise it checks is broken.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck ready|load|pick|queries|write|healed|count|jsinfo|freeport [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	o := opts{}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "coordinator base URL")
	fs.StringVar(&o.index, "index", "sample", "index name")
	fs.IntVar(&o.nodes, "nodes", 4, "ready: live searchers to wait for")
	fs.IntVar(&o.shards, "shards", 8, "load: shards")
	fs.IntVar(&o.replicas, "replicas", 2, "load: copies of each shard")
	fs.DurationVar(&o.dur, "for", 10*time.Second, "queries: how long to search")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "queries: search timeout; other commands: how long to wait")
	fs.StringVar(&o.expect, "expect", "full", "queries: full (no failed or partial answer) or answer (no failed answer, each within its timeout)")
	fs.IntVar(&o.n, "n", 500, "write: documents to write")
	fs.StringVar(&o.prefix, "prefix", "extra", "write: id prefix")
	fs.StringVar(&o.without, "without", "", "healed: the node that must hold no copy")
	fs.IntVar(&o.want, "want", 0, "count: documents expected")
	fs.StringVar(&o.nats, "nats", "nats://broker1:4222", "jsinfo: NATS URL")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	o.c = client.New(o.url, client.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}))
	run := map[string]func(context.Context, opts) error{
		"ready": ready, "load": load, "pick": pick, "queries": queries,
		"write": write, "healed": healed, "count": count, "jsinfo": jsinfo, "freeport": freeport,
	}[cmd]
	if run == nil {
		fmt.Fprintf(os.Stderr, "composecheck: unknown command %q\n", cmd)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "composecheck %s: FAIL: %v\n", cmd, err)
		os.Exit(1)
	}
}

type opts struct {
	url, index, expect, prefix, without, nats string
	nodes, shards, replicas, n, want          int
	dur, timeout                              time.Duration
	c                                         *client.Client
}

// waitFor calls cond every 250ms until it holds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, string)) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("%s: not after %v; last state: %s", what, limit, state)
		case <-t.C:
		}
	}
}

func get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type clusterNode struct {
	Node string `json:"node"`
	Live bool   `json:"live"`
}

func liveNodes(ctx context.Context, url string) ([]string, error) {
	code, body, err := get(ctx, url+"/v1/cluster")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/cluster: %d", code)
	}
	var ci struct {
		Nodes []clusterNode `json:"nodes"`
	}
	if err := json.Unmarshal(body, &ci); err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ci.Nodes {
		if n.Live {
			out = append(out, n.Node)
		}
	}
	return out, nil
}

func ready(ctx context.Context, o opts) error {
	took, err := waitFor(ctx, o.timeout, "ready", func() (bool, string) {
		code, body, err := get(ctx, o.url+"/readyz")
		if err != nil {
			return false, err.Error()
		}
		if code != http.StatusOK {
			return false, fmt.Sprintf("/readyz %d %s", code, body)
		}
		live, err := liveNodes(ctx, o.url)
		if err != nil {
			return false, err.Error()
		}
		return len(live) >= o.nodes, fmt.Sprintf("live searchers %v", live)
	})
	if err != nil {
		return err
	}
	fmt.Printf("ready after %v\n", took.Round(time.Millisecond))
	return nil
}

// bulk sends one NDJSON batch until every document in it is acknowledged,
// retrying while the service is unreachable or unavailable. It returns the
// number of retries.
func bulk(ctx context.Context, c *client.Client, index string, body []byte, n int, wait bool) (int, error) {
	for retries := 0; ; retries++ {
		res, err := c.Bulk(ctx, index, body, wait)
		switch {
		case err == nil && res.Failed == 0 && res.Indexed == n:
			return retries, nil
		case err == nil:
			err = fmt.Errorf("indexed %d of %d: %v", res.Indexed, n, res.Errors)
		case !client.IsUnavailable(err):
			return retries, err
		}
		if retries == 100 {
			return retries, fmt.Errorf("still failing after %d retries: %w", retries, err)
		}
		select {
		case <-ctx.Done():
			return retries, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func load(ctx context.Context, o opts) error {
	m, err := json.Marshal(corpus.SampleMapping())
	if err != nil {
		return err
	}
	if err := o.c.CreateIndex(ctx, o.index, client.IndexSettings{Shards: o.shards, Replicas: o.replicas, Mapping: m}); err != nil {
		return err
	}
	start := time.Now()
	r := corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{})
	var buf bytes.Buffer
	total, inBatch, retries := 0, 0, 0
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		n, err := bulk(ctx, o.c, o.index, buf.Bytes(), inBatch, true)
		retries += n
		total += inBatch
		buf.Reset()
		inBatch = 0
		return err
	}
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if d.Err != nil {
			continue
		}
		buf.Write(d.Body)
		buf.WriteByte('\n')
		if inBatch++; inBatch == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d sample documents into %s (%d shards x %d copies) in %v, %d retries\n",
		total, o.index, o.shards, o.replicas, time.Since(start).Round(time.Millisecond), retries)
	fmt.Println(total)
	return nil
}

// placement returns the nodes of each shard and the shards of each node.
func placement(ctx context.Context, o opts) (*client.IndexInfo, map[int][]string, map[string][]int, error) {
	info, err := o.c.GetIndex(ctx, o.index)
	if err != nil {
		return nil, nil, nil, err
	}
	byShard, byNode := map[int][]string{}, map[string][]int{}
	for _, st := range info.ShardStats {
		if st.Node != "" {
			byShard[st.Shard] = append(byShard[st.Shard], st.Node)
			byNode[st.Node] = append(byNode[st.Node], st.Shard)
		}
	}
	return info, byShard, byNode, nil
}

// pick prints two searchers that share as few shards as possible (none
// when placement allows), the one with more copies first: killing the
// first and cutting off the second still leaves a copy of every shard.
func pick(ctx context.Context, o opts) error {
	_, byShard, byNode, err := placement(ctx, o)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(byNode))
	for n := range byNode {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return fmt.Errorf("need two nodes holding shards, have %v", names)
	}
	shared := func(a, b string) int {
		k := 0
		for _, nodes := range byShard {
			if slices.Contains(nodes, a) && slices.Contains(nodes, b) {
				k++
			}
		}
		return k
	}
	bestA, bestB, best := "", "", -1
	for _, a := range names {
		for _, b := range names {
			if a == b {
				continue
			}
			if k := shared(a, b); best < 0 || k < best || (k == best && len(byNode[a]) > len(byNode[bestA])) {
				bestA, bestB, best = a, b, k
			}
		}
	}
	fmt.Fprintf(os.Stderr, "placement %v: %s and %s share %d shards\n", byNode, bestA, bestB, best)
	fmt.Println(bestA, bestB)
	return nil
}

var words = strings.Fields(`http client reader writer json time duration error string buffer
	file context server request response encode decode bytes slice map sort sync mutex channel close
	open read write parse format template crypto hash tls certificate network address path directory
	unicode rune compress gzip archive zip image color math float random test signal process`)

// queries searches non-stop from two goroutines for o.dur.
func queries(ctx context.Context, o opts) error {
	var mu sync.Mutex
	var n, partial, failed, late int
	var worst time.Duration
	var firstBad string
	stop := time.Now().Add(o.dur)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(stop) {
				q := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
				size := 10
				start := time.Now()
				qctx, cancel := context.WithTimeout(ctx, o.timeout+5*time.Second)
				res, err := o.c.Search(qctx, o.index, &client.SearchRequest{Query: client.QueryString(q), Size: &size, Timeout: o.timeout.String()})
				cancel()
				took := time.Since(start)
				mu.Lock()
				n++
				worst = max(worst, took)
				bad := ""
				switch {
				case err != nil:
					failed++
					bad = fmt.Sprintf("%q failed after %v: %v", q, took, err)
				case res.Partial:
					partial++
					if o.expect == "full" {
						bad = fmt.Sprintf("%q partial after %v: %v", q, took, res.Shards.Failures)
					}
				}
				// A second of slack for HTTP and merging on a busy machine.
				if took > o.timeout+time.Second {
					late++
					bad = fmt.Sprintf("%q took %v, timeout %v", q, took, o.timeout)
				}
				if bad != "" && firstBad == "" {
					firstBad = bad
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	fmt.Printf("%d queries in %v (timeout %v): %d failed, %d partial, %d later than the timeout, slowest %v\n",
		n, o.dur, o.timeout, failed, partial, late, worst.Round(time.Millisecond))
	switch {
	case n == 0:
		return errors.New("no query ran")
	case failed > 0 || late > 0 || (o.expect == "full" && partial > 0):
		return fmt.Errorf("expected %s answers; first problem: %s", o.expect, firstBad)
	}
	return nil
}

// write bulk-writes o.n documents with ids prefix-0..n-1 in batches of 50,
// each retried until acknowledged.
func write(ctx context.Context, o opts) error {
	start := time.Now()
	retries := 0
	for lo := 0; lo < o.n; lo += 50 {
		var buf bytes.Buffer
		hi := min(lo+50, o.n)
		for i := lo; i < hi; i++ {
			fmt.Fprintf(&buf, `{"id":"%s-%d","title":"extra document %d","body":"written while containers were being killed","kind":"extra"}`+"\n", o.prefix, i, i)
		}
		r, err := bulk(ctx, o.c, o.index, buf.Bytes(), hi-lo, false)
		retries += r
		if err != nil {
			return fmt.Errorf("batch %d-%d: %w", lo, hi, err)
		}
	}
	fmt.Printf("wrote %d documents in %v with %d retried batches\n", o.n, time.Since(start).Round(time.Millisecond), retries)
	return nil
}

// healed waits until every shard has its full number of live, caught-up
// copies, none on o.without.
func healed(ctx context.Context, o opts) error {
	took, err := waitFor(ctx, o.timeout, "every shard fully replicated without "+o.without, func() (bool, string) {
		info, err := o.c.GetIndex(ctx, o.index)
		if err != nil {
			return false, err.Error()
		}
		per := map[int]int{}
		for _, st := range info.ShardStats {
			if st.Node == o.without {
				return false, fmt.Sprintf("shard %d still placed on %s", st.Shard, st.Node)
			}
			if st.CaughtUp {
				per[st.Shard]++
			}
		}
		for s := 0; s < info.Shards; s++ {
			if per[s] < info.Replicas {
				return false, fmt.Sprintf("shard %d has %d caught-up copies", s, per[s])
			}
		}
		return true, ""
	})
	if err != nil {
		return err
	}
	fmt.Printf("every shard has all its copies again, none on %s, %v after the check started\n", o.without, took.Round(time.Millisecond))
	return nil
}

// count waits until the index holds exactly o.want documents, every copy
// has caught up and the copies of each shard agree, then checks the count
// with a match_all search and fetches a sample of documents.
func count(ctx context.Context, o opts) error {
	var info *client.IndexInfo
	took, err := waitFor(ctx, o.timeout, "exact count with agreeing copies", func() (bool, string) {
		var err error
		info, err = o.c.GetIndex(ctx, o.index)
		if err != nil {
			return false, err.Error()
		}
		per := map[int][][2]uint64{}
		for _, st := range info.ShardStats {
			if !st.CaughtUp {
				return false, fmt.Sprintf("shard %d on %s not caught up", st.Shard, st.Node)
			}
			per[st.Shard] = append(per[st.Shard], [2]uint64{st.Docs, st.AppliedSeq})
		}
		for s := 0; s < info.Shards; s++ {
			cs := per[s]
			if len(cs) < info.Replicas {
				return false, fmt.Sprintf("shard %d has %d copies", s, len(cs))
			}
			for _, c := range cs[1:] {
				if c != cs[0] {
					return false, fmt.Sprintf("shard %d copies differ (docs, applied seq): %v", s, cs)
				}
			}
		}
		return info.Docs == uint64(o.want), fmt.Sprintf("%d documents", info.Docs)
	})
	if err != nil {
		return err
	}
	size := 0
	res, err := o.c.Search(ctx, o.index, &client.SearchRequest{Query: json.RawMessage(`{"match_all":{}}`), Size: &size, Timeout: "10s"})
	if err != nil {
		return fmt.Errorf("match_all: %w", err)
	}
	if res.Partial || res.TotalHits != uint64(o.want) {
		return fmt.Errorf("match_all finds %d documents (partial %v), want %d", res.TotalHits, res.Partial, o.want)
	}
	// Fetch a sample of the corpus by id.
	r := corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{})
	fetched := 0
	for i := 0; ; i++ {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if d.Err != nil || i%25 != 0 {
			continue
		}
		if _, err := o.c.GetDoc(ctx, o.index, d.ID); err != nil {
			return fmt.Errorf("GET %s: %w", d.ID, err)
		}
		fetched++
	}
	var copies []string
	for _, st := range info.ShardStats {
		copies = append(copies, fmt.Sprintf("%d/%s=%d", st.Shard, st.Node, st.Docs))
	}
	fmt.Printf("%d documents, exact, after %v; match_all finds %d; %d sampled documents fetched by id; copies %s\n",
		info.Docs, took.Round(time.Millisecond), res.TotalHits, fetched, strings.Join(copies, " "))
	return nil
}

// jsinfo checks that the brokers form one JetStream cluster: the index's
// stream and the metadata buckets each have three replicas, a leader, and
// every follower current (it waits up to -timeout for followers to catch
// up, e.g. after a broker restart).
func jsinfo(ctx context.Context, o opts) error {
	nc, err := nats.Connect(o.nats, nats.Name("composecheck"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	streams := []string{protocol.StreamName(o.index), "KV_" + meta.BucketIndexes, "KV_" + meta.BucketPlacement, "KV_" + meta.BucketNodes}
	var report []string
	took, err := waitFor(ctx, o.timeout, "three current replicas of every stream", func() (bool, string) {
		report = report[:0]
		for _, name := range streams {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", name, err)
			}
			info := s.CachedInfo()
			if info.Cluster == nil || info.Config.Replicas < 3 || info.Cluster.Leader == "" {
				return false, fmt.Sprintf("%s: replicas %d, cluster %+v", name, info.Config.Replicas, info.Cluster)
			}
			peers := []string{info.Cluster.Leader + "*"}
			for _, p := range info.Cluster.Replicas {
				if !p.Current || p.Offline {
					return false, fmt.Sprintf("%s: replica %s current=%v offline=%v", name, p.Name, p.Current, p.Offline)
				}
				peers = append(peers, p.Name)
			}
			sort.Strings(peers)
			report = append(report, fmt.Sprintf("%s R%d on %s (%d msgs)", name, info.Config.Replicas, strings.Join(peers, ","), info.State.Msgs))
		}
		return true, ""
	})
	if err != nil {
		return err
	}
	fmt.Printf("JetStream cluster %q via %s: %s (all replicas current after %v)\n",
		nc.ConnectedClusterName(), nc.ConnectedServerName(), strings.Join(report, "; "), took.Round(time.Millisecond))
	return nil
}

// freeport prints a TCP port on 127.0.0.1 that was free a moment ago.
func freeport(context.Context, opts) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
