package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

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
	nopts := []nats.Option{nats.Name("composecheck")}
	if o.creds != "" {
		nopts = append(nopts, nats.UserCredentials(o.creds))
	}
	if o.ca != "" {
		nopts = append(nopts, broker.ClientTLS(o.ca))
	}
	nc, err := nats.Connect(o.nats, nopts...)
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
