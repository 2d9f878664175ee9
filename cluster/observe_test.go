package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testmetrics"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/tracing"
)

// observed is an in-process cluster whose roles share one registry, one
// tracer provider exporting to memory, and one logger writing to a buffer.
type observed struct {
	c     *cluster.Cluster
	spans *tracetest.InMemoryExporter
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the loggers of several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (s *syncBuffer) lines(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// startObserved starts 4 searchers and an index "obs" of 8 shards, one copy
// each, holding docs documents.
func startObserved(t *testing.T, docs int) *observed {
	o := &observed{spans: tracetest.NewInMemoryExporter(), logs: &syncBuffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(o.spans))
	o.c = testcluster.Start(t, 4, func(co *cluster.Options) {
		co.Metrics = cluster.NewRegistry()
		co.TracerProvider = tp
		co.Logger = slog.New(tracing.LogHandler(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
		co.Frontend.Web.AccessLog = slog.New(tracing.LogHandler(slog.NewJSONHandler(o.logs, nil)))
		co.Frontend.NodeTimeout = 1500 * time.Millisecond
		co.Frontend.Coordinator.SlowQuery = time.Nanosecond // every search is slow
		co.Frontend.Coordinator.PartialLogEvery = time.Hour // one partial line
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := o.c.Frontend.Catalog.CreateIndex(ctx, meta.IndexDef{Name: "obs", Shards: 8, Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	if err := o.c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	for i := range docs {
		fmt.Fprintf(&body, `{"id":"d%d","title":"river stone %d","body":"the river runs by stone %d"}`+"\n", i, i, i%7)
	}
	if code, b, _ := o.do(t, http.MethodPost, "/v1/indexes/obs/bulk?refresh=wait_for", body.String(), nil); code != http.StatusOK {
		t.Fatalf("bulk: %d %s", code, b)
	}
	return o
}

// do sends an HTTP request to the cluster and returns the status, the
// body and the headers of the answer.
func (o *observed) do(t *testing.T, method, path, body string, hdr http.Header) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, o.c.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // the API takes JSON bodies only
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// search GETs a search of obs and decodes the answer.
func (o *observed) search(t *testing.T, query string) (*coordinator.Response, http.Header) {
	t.Helper()
	code, b, h := o.do(t, http.MethodGet, "/v1/indexes/obs/search?"+query, "", nil)
	if code != http.StatusOK {
		t.Fatalf("search %s: %d %s", query, code, b)
	}
	var res coordinator.Response
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res, h
}

func (o *observed) scrape(t *testing.T) testmetrics.Families {
	t.Helper()
	return testmetrics.Scrape(t, o.c.URL()+"/metrics")
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestMetricsMove: the families exist, and searches, writes and a stopped
// searcher move them as documented.
func TestMetricsMove(t *testing.T) {
	const docs = 120
	o := startObserved(t, docs)
	before := o.scrape(t)
	const n = 5
	for range n {
		o.search(t, "q=river")
	}
	after := o.scrape(t)
	grew := func(name string, labels ...string) float64 {
		return after.Sum(name, labels...) - before.Sum(name, labels...)
	}
	if d := grew("shoal_search_requests_total", "index", "obs", "outcome", "ok"); d != n {
		t.Errorf("shoal_search_requests_total{outcome=ok} grew by %v after %d searches", d, n)
	}
	if d := grew("shoal_search_duration_seconds", "index", "obs"); d != n {
		t.Errorf("shoal_search_duration_seconds count grew by %v, want %d", d, n)
	}
	for _, p := range []string{"presearch", "scatter", "merge"} {
		if d := grew("shoal_search_phase_seconds", "phase", p); d != n {
			t.Errorf("phase %s count grew by %v, want %d", p, d, n)
		}
	}
	if d := grew("shoal_stats_cache_requests_total", "result", "hit"); d < n-1 {
		t.Errorf("stats cache hits grew by %v, want at least %d", d, n-1)
	}
	if d := grew("shoal_shard_requests_total", "outcome", "ok"); d != 8*n {
		t.Errorf("shard requests ok grew by %v, want %d", d, 8*n)
	}
	if d := grew("shoal_copy_search_duration_seconds", "index", "obs"); d != 8*n {
		t.Errorf("copy searches grew by %v, want %d", d, 8*n)
	}
	if v := after.Sum("shoal_ingest_documents_total", "index", "obs", "op", "index"); v != docs {
		t.Errorf("shoal_ingest_documents_total{op=index} = %v, want %d", v, docs)
	}
	if v, p := after.Sum("shoal_copy_docs", "index", "obs"), after.Sum("shoal_copy_pending_messages", "index", "obs"); v != docs || p != 0 {
		t.Errorf("copies hold %v documents with %v pending, want %d and 0", v, p, docs)
	}
	if v := after.Sum("shoal_copy_caught_up", "index", "obs"); v != 8 {
		t.Errorf("%v caught-up copies, want 8", v)
	}
	if v := after.Sum("shoal_coordinator_cache_entries", "cache", "term_sets"); v < 1 {
		t.Errorf("shoal_coordinator_cache_entries{cache=term_sets} = %v after searches", v)
	}
	if v := after.Series("shoal_searcher_cache_bytes", "cache", "term_sets"); v != 4 {
		t.Errorf("%d series shoal_searcher_cache_bytes{cache=term_sets}, want one per node", v)
	}
	if v := after.Sum("shoal_nodes_live"); v != 4 {
		t.Errorf("shoal_nodes_live = %v, want 4", v)
	}

	// Refused searches are rejected; an unknown index is no label.
	o.do(t, http.MethodGet, "/v1/indexes/nosuch/search?q=x", "", nil)
	if code, b, _ := o.do(t, http.MethodGet, "/v1/indexes/obs/search?q=stone&size=20000", "", nil); code != http.StatusBadRequest {
		t.Errorf("a window over the limit: %d %s", code, b)
	}
	m := o.scrape(t)
	if v := m.Sum("shoal_search_requests_total", "index", "", "outcome", "rejected"); v != 1 {
		t.Errorf("rejected searches of an unknown index: %v, want 1", v)
	}
	if v := m.Sum("shoal_search_requests_total", "index", "obs", "outcome", "rejected"); v != 1 {
		t.Errorf("rejected searches of obs: %v, want 1", v)
	}
	if m.Series("shoal_search_requests_total", "index", "nosuch") != 0 {
		t.Error("an unknown index name became a label value")
	}

	// A stopped searcher: its shards fail with no responders, the answer
	// is partial, the node leaves shoal_nodes_live and its shards are
	// unserved.
	if err := o.c.KillSearcher(0); err != nil {
		t.Fatal(err)
	}
	res, _ := o.search(t, "q=stone")
	if !res.Partial {
		t.Fatalf("answer with a searcher stopped is not partial: %+v", res.Shards)
	}
	killed := o.scrape(t)
	if d := killed.Sum("shoal_search_requests_total", "index", "obs", "outcome", "partial") - m.Sum("shoal_search_requests_total", "index", "obs", "outcome", "partial"); d != 1 {
		t.Errorf("partial searches grew by %v, want 1", d)
	}
	failed := killed.Sum("shoal_shard_requests_total", "outcome", "no_responders") + killed.Sum("shoal_shard_requests_total", "outcome", "timeout") -
		m.Sum("shoal_shard_requests_total", "outcome", "no_responders") - m.Sum("shoal_shard_requests_total", "outcome", "timeout")
	if failed < float64(res.Shards.Failed) {
		t.Errorf("failed shard requests grew by %v, %d shards failed", failed, res.Shards.Failed)
	}
	if lines := o.logs.lines("partial answer"); len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0]["missing"]), "no responders") {
		t.Errorf("partial-answer log: %v", lines)
	}
	testwait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
		m := o.scrape(t)
		if live, unserved := m.Sum("shoal_nodes_live"), m.Sum("shoal_shards_unserved", "index", "obs"); live != 3 || unserved == 0 {
			return fmt.Errorf("shoal_nodes_live %v, shoal_shards_unserved %v", live, unserved)
		}
		return nil
	})
	checkDashboard(t, o.scrape(t))
}

// TestProfileAndTrace: profile=true on an 8-shard index returns 8 shard
// entries whose nodes and copies match /v1/cluster, with phases that add
// up to took; the same search is one trace holding the coordinator's spans
// and every answering node's, parent links crossing NATS; its request id,
// in X-Request-Id and the slow-query log, is the trace id.
func TestProfileAndTrace(t *testing.T) {
	o := startObserved(t, 40)
	res, hdr := o.search(t, "q=stone+river&profile=true")
	id := hdr.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		t.Fatalf("X-Request-Id %q", id)
	}
	p := res.Profile
	if p == nil || len(p.Shards) != 8 {
		t.Fatalf("profile %+v, want 8 shards", p)
	}
	checkProfile(t, o, p)
	answered := map[string]bool{}
	for _, sp := range p.Shards {
		answered[sp.Copy] = true
	}
	checkTrace(t, o, id, answered)

	lines := o.logs.lines("slow query")
	found := false
	for _, l := range lines {
		if l["request_id"] == id {
			found = true
			if l["index"] != "obs" || l["slowest_shard"] == nil || l["took_ms"] == nil {
				t.Errorf("slow-query line %v", l)
			}
		}
	}
	if !found {
		t.Errorf("no slow-query line with request_id %s in %d lines", id, len(lines))
	}
	found = false
	for _, l := range o.logs.lines("request") {
		if l["request_id"] == id {
			found = true
			if l["path"] != "/v1/indexes/obs/search" || l["status"] != float64(200) || l["route"] != "/v1/indexes/:index/search" {
				t.Errorf("access log line %v", l)
			}
		}
	}
	if !found {
		t.Errorf("no access log line with request_id %s", id)
	}

	// POST takes "profile": true; without it there is no profile.
	code, b, _ := o.do(t, http.MethodPost, "/v1/indexes/obs/search", `{"query":{"query":"stone"},"profile":true}`, nil)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"profile":{"took_us"`)) {
		t.Errorf("POST with profile: %d %.200s", code, b)
	}
	if res, _ := o.search(t, "q=stone"); res.Profile != nil {
		t.Error("a profile without profile=true")
	}
	if code, b, _ := o.do(t, http.MethodGet, "/v1/indexes/obs/search?q=stone&profile=maybe", "", nil); code != http.StatusBadRequest {
		t.Errorf("profile=maybe: %d %s", code, b)
	}
	// An incoming traceparent is honoured: its trace id is the request id.
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	_, _, h := o.do(t, http.MethodGet, "/v1/indexes/obs/search?q=stone", "", http.Header{"Traceparent": {"00-" + tid + "-00f067aa0ba902b7-01"}})
	if got := h.Get("X-Request-Id"); got != tid {
		t.Errorf("X-Request-Id %q with traceparent of trace %s", got, tid)
	}
	if _, _, h := o.do(t, http.MethodGet, "/healthz", "", nil); !requestIDPattern.MatchString(h.Get("X-Request-Id")) {
		t.Errorf("/healthz without a request id: %v", h)
	}
}

// checkProfile checks a profile of obs against /v1/cluster and itself.
func checkProfile(t *testing.T, o *observed, p *coordinator.Profile) {
	t.Helper()
	_, b, _ := o.do(t, http.MethodGet, "/v1/cluster", "", nil)
	var ci coordinator.ClusterInfo
	if err := json.Unmarshal(b, &ci); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]map[int]bool{}
	for _, n := range ci.Nodes {
		hosts[n.Node] = map[int]bool{}
		for _, cp := range n.Copies {
			if cp.Index == "obs" {
				hosts[n.Node][cp.Shard] = true
			}
		}
	}
	placed := ci.Placement["obs"].Copies
	for s, sp := range p.Shards {
		if sp.Shard != s || sp.Error != "" || sp.Copy == "" {
			t.Errorf("shard entry %d: %+v", s, sp)
			continue
		}
		if !strings.Contains(strings.Join(placed[s], ","), sp.Copy) || !hosts[sp.Copy][s] || sp.Node != sp.Copy {
			t.Errorf("shard %d answered by node %q copy %q; placement %v, node's copies %v", s, sp.Node, sp.Copy, placed[s], hosts[sp.Copy])
		}
		if sp.SearchUS <= 0 || sp.NodeUS < sp.SearchUS || sp.WaitUS < sp.NodeUS || sp.NetworkUS != sp.WaitUS-sp.NodeUS || sp.Won != "first" {
			t.Errorf("shard %d timings %+v", s, sp)
		}
	}
	ph := p.Phases
	sum := ph.PrepareUS + ph.PresearchUS + ph.ScatterUS + ph.MergeUS
	if diff := sum - p.TookUS; diff*10 > p.TookUS || -diff*10 > p.TookUS {
		t.Errorf("phases add up to %dµs, took %dµs", sum, p.TookUS)
	}
	if ph.StatsCache != "miss" {
		t.Errorf("stats cache %q on a new query, want miss", ph.StatsCache)
	}
}

// checkTrace checks that trace id holds the coordinator's spans and the
// spans of every node in nodes, linked across NATS.
func checkTrace(t *testing.T, o *observed, id string, nodes map[string]bool) {
	t.Helper()
	var spans tracetest.SpanStubs
	byID := map[string]tracetest.SpanStub{}
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		spans, byID = nil, map[string]tracetest.SpanStub{}
		for _, s := range o.spans.GetSpans() {
			if s.SpanContext.TraceID().String() == id {
				spans = append(spans, s)
				byID[s.SpanContext.SpanID().String()] = s
			}
		}
		got := map[string]bool{}
		for _, s := range spans {
			if s.Name == "node search" {
				got[nodeOf(s)] = true
			}
		}
		if len(got) != len(nodes) {
			return fmt.Errorf("node search spans on %v, answering nodes %v", got, nodes)
		}
		return nil
	})
	names := map[string]int{}
	for _, s := range spans {
		names[s.Name]++
		parent, ok := byID[s.Parent.SpanID().String()]
		switch {
		case s.Name == "GET /v1/indexes/:index/search":
			if s.Parent.IsValid() {
				t.Errorf("the HTTP span has a parent: %v", s.Parent)
			}
		case !ok:
			t.Errorf("span %q: parent %s not in the trace", s.Name, s.Parent.SpanID())
		case s.Name == "node search" && (!s.Parent.IsRemote() || !strings.HasPrefix(parent.Name, "request shoal.node.") || !nodes[nodeOf(s)]):
			t.Errorf("node search on %s: parent %q (remote %v)", nodeOf(s), parent.Name, s.Parent.IsRemote())
		case s.Name == "shard search" && parent.Name != "node search":
			t.Errorf("shard search under %q", parent.Name)
		case s.Name == "shard presearch" && (!s.Parent.IsRemote() || !strings.HasPrefix(parent.Name, "request shoal.copy.")):
			t.Errorf("shard presearch under %q (remote %v)", parent.Name, s.Parent.IsRemote())
		}
	}
	for name, want := range map[string]int{"search": 1, "presearch": 1, "scatter": 1, "merge": 1, "shard search": 8, "shard presearch": 8} {
		if names[name] != want {
			t.Errorf("%d spans %q, want %d (all: %v)", names[name], name, want, names)
		}
	}
}

func nodeOf(s tracetest.SpanStub) string {
	for _, a := range s.Attributes {
		if a.Key == "shoal.node" {
			return a.Value.AsString()
		}
	}
	return ""
}

// metricName finds the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:shoal|go|process)_[a-z0-9_]+`)

// checkDashboard checks that every query of every panel of the Grafana
// dashboard names families that fams, a real /metrics, serves.
func checkDashboard(t *testing.T, fams testmetrics.Families) {
	t.Helper()
	raw, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []dashPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := 0
	var walk func([]dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			walk(p.Panels)
			for _, tg := range p.Targets {
				exprs++
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					if fams[n] == nil && fams[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] == nil {
						t.Errorf("panel %q: %s is not served by /metrics", p.Title, n)
					}
				}
			}
		}
	}
	walk(dash.Panels)
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries", exprs)
	}
}

type dashPanel struct {
	Title   string      `json:"title"`
	Panels  []dashPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}
