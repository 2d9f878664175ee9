package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
)

// benchIndex is the name of the index the benchmark creates.
const benchIndex = "bench"

// shoal is an in-process Shoal cluster (embedded NATS, searcher nodes, a
// frontend with its real HTTP server) and an HTTP client for it.
type shoal struct {
	c     *cluster.Cluster
	cl    *client.Client
	hc    *http.Client
	conns []*nats.Conn         // of coordinators made by coordinator
	reg   *prometheus.Registry // nil: no metrics
}

// coordinator starts another coordinator on the cluster's catalog, with
// opts, on a connection of its own named name; close closes it.
func (s *shoal) coordinator(ctx context.Context, name string, opts coordinator.Options) (*coordinator.Coordinator, error) {
	nc, err := s.c.Connect(ctx, name, broker.RoleCoordinator, "")
	if err != nil {
		return nil, err
	}
	s.conns = append(s.conns, nc)
	return coordinator.New(nc, s.c.Frontend.Catalog, opts), nil
}

// startShoal starts a cluster of searchers nodes in dir and waits until it
// is ready.
func startShoal(ctx context.Context, dir string, searchers int, tcp, metrics bool, log *slog.Logger) (*shoal, error) {
	o := cluster.Options{
		DataDir:       dir,
		NATSListen:    "127.0.0.1:-1",
		Searchers:     searchers,
		InMemoryConns: !tcp,
		Frontend:      cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"},
		Logger:        log,
	}
	if metrics {
		o.Metrics = cluster.NewRegistry()
	}
	reg := o.Metrics
	c, err := cluster.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("bench: start cluster: %w", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	// One keep-alive connection per concurrent client: the default
	// transport keeps only two idle connections per host.
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
	return &shoal{c: c, cl: client.New(c.URL(), client.WithHTTPClient(hc), client.WithUserAgent("shoal-bench")), hc: hc, reg: reg}, nil
}

// statsLookups returns a reader of the cluster coordinator's global
// statistics lookups so far, hits (no presearch round) and misses, as its
// metric shoal_stats_cache_requests_total counts them; nil without
// metrics.
func (s *shoal) statsLookups() func() (hits, misses float64) {
	if s.reg == nil {
		return nil
	}
	return func() (hits, misses float64) {
		fams, err := s.reg.Gather()
		if err != nil {
			return 0, 0
		}
		for _, f := range fams {
			if f.GetName() != "shoal_stats_cache_requests_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					switch {
					case l.GetName() != "result":
					case l.GetValue() == "hit":
						hits += m.GetCounter().GetValue()
					case l.GetValue() == "miss":
						misses += m.GetCounter().GetValue()
					}
				}
			}
		}
		return hits, misses
	}
}

func (s *shoal) close() error {
	s.hc.CloseIdleConnections()
	for _, nc := range s.conns {
		nc.Close()
	}
	return s.c.Close()
}

// createIndex creates an index through the API and waits until
// every copy of every shard is placed, caught up and known as such to the
// coordinator.
func (s *shoal) createIndex(ctx context.Context, index string, shards, replicas int, mapping json.RawMessage) error {
	err := s.cl.CreateIndex(ctx, index, client.IndexSettings{Shards: shards, Replicas: replicas, Mapping: mapping})
	if err != nil {
		return fmt.Errorf("bench: create index: %w", err)
	}
	return s.waitCopies(ctx, index, replicas)
}

// waitCopies waits until each shard of the benchmark index has replicas
// copies that the catalog knows as caught up, so that the coordinator
// spreads queries over all of them.
func (s *shoal) waitCopies(ctx context.Context, index string, replicas int) error {
	cat := s.c.Frontend.Catalog
	ready := func() bool {
		m := cat.ShardMap(index)
		if m == nil {
			return false
		}
		for sh, nodes := range m.Copies {
			if len(nodes) < replicas {
				return false
			}
			for _, n := range nodes {
				if st, ok := cat.Copy(n, index, sh); !ok || !st.CaughtUp {
					return false
				}
			}
		}
		return true
	}
	for !ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for %d caught-up copies of every shard: %w", replicas, ctx.Err())
		case <-cat.Changed():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// coordSearch queries through a coordinator directly: presearch (cached)
// and search scattered to the searchers over NATS, merged. A shard that
// does not answer fails the query.
func coordSearch(co *coordinator.Coordinator) searchFunc {
	return func(ctx context.Context, q string, size int) ([]hit, error) {
		req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), size, 0, false)
		res, err := co.Search(ctx, benchIndex, coordinator.Request{Search: req})
		if err != nil {
			return nil, err
		}
		out := make([]hit, len(res.Hits))
		for i, h := range res.Hits {
			out[i] = hit{id: h.ID, score: h.Score}
		}
		return out, nil
	}
}

// httpSearch queries through the HTTP API (POST search) with the client
// package.
func (s *shoal) httpSearch() searchFunc {
	return func(ctx context.Context, q string, size int) ([]hit, error) {
		body, err := json.Marshal(map[string]any{
			"query": map[string]string{"query": q}, "size": size, "allow_partial": false,
		})
		if err != nil {
			return nil, err
		}
		res, err := s.cl.SearchJSON(ctx, benchIndex, body)
		if err != nil {
			return nil, err
		}
		if res.Partial {
			return nil, errors.New("partial answer")
		}
		out := make([]hit, len(res.Hits))
		for i, h := range res.Hits {
			out[i] = hit{id: h.ID, score: h.Score}
		}
		return out, nil
	}
}

// slowestCandidate picks the searcher slot to slow down: the node hosting
// the fewest copies of the benchmark index (at least one), so that as few
// shard copies as possible are slow. It returns the slot, the node's name
// and the number of copies it hosts.
func (s *shoal) slowestCandidate() (int, string, int, error) {
	m := s.c.Frontend.Catalog.ShardMap(benchIndex)
	if m == nil {
		return 0, "", 0, errors.New("bench: the index is not placed")
	}
	hosted := map[string]int{}
	for _, nodes := range m.Copies {
		for _, n := range nodes {
			hosted[n]++
		}
	}
	names := make([]string, 0, len(hosted))
	for n := range hosted {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if hosted[names[i]] != hosted[names[j]] {
			return hosted[names[i]] < hosted[names[j]]
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		for i := range s.c.Searchers() {
			if n := s.c.Searcher(i); n != nil && n.Name() == name {
				return i, name, hosted[name], nil
			}
		}
	}
	return 0, "", 0, errors.New("bench: no searcher hosts a copy")
}
