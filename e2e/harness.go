// Package e2e proves Shoal's promises with real, separate operating-system
// processes: a `shoal broker`, several `shoal searcher` nodes and a
// `shoal coordinator`, all started from the binary built once for the test
// run, talking over 127.0.0.1 only. The tests kill processes with SIGKILL
// (as a crash or an out-of-memory kill would), restart them, and check from
// outside, through the HTTP API, what a user would see: partial answers
// that come at once and name the missing shards, failover to replicas,
// self-healing placement, and bulk loads that lose and duplicate nothing.
//
// This file holds the cluster harness, proc.go one process and secure.go
// the credentials and certificates; the tests are in the _test files.
// They are skipped with -short. SHOAL_E2E_BIN runs a prebuilt binary
// instead of building one, SHOAL_E2E_LOGS=1 prints every process's log even
// when a test passes, and SHOAL_E2E_FULL=1 makes the crash test load 50,000
// documents instead of 10,000.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/internal/testwait"
)

// Options shape a test cluster.
type Options struct {
	// Searchers is the number of searcher processes (default 4).
	Searchers int
	// NodeTimeout and HealAfter are the coordinator's --node-timeout and
	// --heal-after (defaults 2s and 6s; HealAfter < 0 means 0: never heal).
	NodeTimeout time.Duration
	HealAfter   time.Duration
	// CoordinatorArgs are extra coordinator flags.
	CoordinatorArgs []string
	// SearcherMetrics serves each searcher's Prometheus metrics on a port
	// of its own (--metrics), at Cluster.MetricsURL[name].
	SearcherMetrics bool
	// TLS runs the broker's client port and the coordinator's API with
	// TLS (secure.go); without it they run with credentials only.
	TLS bool
	// NATSServer, when set, is an official nats-server binary to run as
	// the broker instead of `shoal broker`, with the nats-server.conf that
	// `shoal creds` wrote (not with TLS).
	NATSServer string
	// Refusals marks a test that provokes the broker's refusals itself;
	// any other fails if the broker refused one of its processes
	// anything (secure.go, checkNoRefusals).
	Refusals bool
}

// Cluster is a broker, searchers and a coordinator running as separate
// processes on 127.0.0.1.
type Cluster struct {
	Dir         string
	NATSURL     string
	URL         string
	Broker      *Proc
	Searchers   []*Proc
	Coordinator *Proc
	Client      *client.Client
	HTTP        *http.Client
	// MetricsURL is each searcher's /metrics, by name, when
	// Options.SearcherMetrics; the coordinator's is URL + "/metrics".
	MetricsURL map[string]string
	// AuthDir holds the NATS accounts and every role's credentials; TLS
	// names the certificate files of a TLS cluster.
	AuthDir string
	TLS     broker.TLSFiles
	bin     string // the shoal binary
}

// StartCluster starts a whole cluster and waits until the coordinator
// answers /healthz and sees every searcher live. Every process is killed
// when the test ends; the logs of all of them are printed if it failed (or
// always, with SHOAL_E2E_LOGS=1).
func StartCluster(t testing.TB, bin string, o Options) *Cluster {
	t.Helper()
	if o.Searchers <= 0 {
		o.Searchers = 4
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 2 * time.Second
	}
	switch {
	case o.HealAfter == 0:
		o.HealAfter = 6 * time.Second
	case o.HealAfter < 0:
		o.HealAfter = 0
	}
	dir := t.TempDir()
	natsPort, httpPort := FreePort(t), FreePort(t)
	c := &Cluster{
		Dir:     dir,
		NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", natsPort),
		HTTP:    &http.Client{Timeout: 30 * time.Second},
		bin:     bin,

		MetricsURL: map[string]string{},
	}
	var names []string
	for i := 1; i <= o.Searchers; i++ {
		names = append(names, "s"+strconv.Itoa(i))
	}
	c.secure(t, o.TLS, names)
	c.URL = fmt.Sprintf("%s://127.0.0.1:%d", c.scheme(), httpPort)
	c.Client = client.New(c.URL, client.WithHTTPClient(c.HTTP))
	c.Broker = c.brokerProc(t, o.NATSServer, natsPort)
	for _, name := range names {
		args := append([]string{"searcher", "--nats", c.NATSURL, "--data", filepath.Join(dir, name), "--node", name}, c.roleArgs(name)...)
		if o.SearcherMetrics {
			addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
			args = append(args, "--metrics", addr)
			c.MetricsURL[name] = "http://" + addr + "/metrics"
		}
		c.Searchers = append(c.Searchers, newProc(bin, dir, name, args...))
	}
	args := append([]string{"coordinator", "--nats", c.NATSURL,
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--node-timeout", o.NodeTimeout.String(), "--heal-after", o.HealAfter.String()}, c.roleArgs("")...)
	c.Coordinator = newProc(bin, dir, "coordinator", append(args, o.CoordinatorArgs...)...)

	t.Cleanup(func() {
		if t.Failed() && c.Coordinator.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, body, err := c.status(ctx, "/v1/cluster")
			cancel()
			t.Logf("GET /v1/cluster at the end: %.4000s %v", body, err)
		}
		for _, p := range c.all() {
			p.Kill(t)
		}
		if !o.Refusals {
			c.checkNoRefusals(t)
		}
		if t.Failed() || os.Getenv("SHOAL_E2E_LOGS") == "1" {
			for _, p := range c.all() {
				t.Logf("----- log of %s (%s) -----\n%s", p.Name, p.log, p.Log(16<<10))
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.Broker.Start(t)
	c.WaitBroker(ctx, t)
	for _, s := range c.Searchers {
		s.Start(t)
	}
	c.Coordinator.Start(t)
	c.WaitHealthy(ctx, t)
	c.WaitLive(ctx, t, c.searcherNames()...)
	return c
}

func (c *Cluster) all() []*Proc {
	out := []*Proc{c.Coordinator}
	out = append(out, c.Searchers...)
	return append(out, c.Broker)
}

func (c *Cluster) searcherNames() []string {
	var out []string
	for _, s := range c.Searchers {
		out = append(out, s.Name)
	}
	return out
}

// Searcher returns the searcher process named name.
func (c *Cluster) Searcher(t testing.TB, name string) *Proc {
	t.Helper()
	for _, s := range c.Searchers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no searcher %q", name)
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Waits on a condition go through testwait: pollEvery is how often they
// check it. The harness's own waits take the caller's ctx as their limit;
// harnessWait only bounds them should ctx have no deadline.
const (
	pollEvery   = 25 * time.Millisecond
	harnessWait = 5 * time.Minute
)

// WaitBroker waits until the broker accepts NATS connections (it greets
// every client with an INFO line).
func (c *Cluster) WaitBroker(ctx context.Context, t testing.TB) {
	t.Helper()
	addr := strings.TrimPrefix(c.NATSURL, "nats://")
	err := testwait.Until(ctx, harnessWait, pollEvery, func() error {
		if !c.Broker.Running() {
			t.Fatalf("broker exited:\n%s", c.Broker.Log(4<<10))
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("greeted with %q", line)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for the broker to accept connections: %v", err)
	}
}

// status GETs path and returns the status code and body.
func (c *Cluster) status(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// WaitHealthy waits until the coordinator answers /healthz.
func (c *Cluster) WaitHealthy(ctx context.Context, t testing.TB) {
	t.Helper()
	err := testwait.Until(ctx, harnessWait, pollEvery, func() error {
		if !c.Coordinator.Running() {
			t.Fatalf("coordinator exited:\n%s", c.Coordinator.Log(4<<10))
		}
		code, body, err := c.status(ctx, "/healthz")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/healthz: %d %s", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for coordinator /healthz: %v", err)
	}
}

// Ready reports whether /readyz answers 200.
func (c *Cluster) Ready(ctx context.Context) (bool, string) {
	code, body, err := c.status(ctx, "/readyz")
	if err != nil {
		return false, err.Error()
	}
	return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
}

// WaitReady waits until /readyz answers 200: every shard of every index
// has a live, caught-up copy.
func (c *Cluster) WaitReady(ctx context.Context, t testing.TB) {
	t.Helper()
	err := testwait.Until(ctx, harnessWait, pollEvery, func() error {
		if ok, state := c.Ready(ctx); !ok {
			return errors.New(state)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for /readyz: %v", err)
	}
}

// ClusterNode is a node as GET /v1/cluster reports it.
type ClusterNode struct {
	Node string `json:"node"`
	Live bool   `json:"live"`
}

// Nodes returns GET /v1/cluster's nodes.
func (c *Cluster) Nodes(ctx context.Context) ([]ClusterNode, error) {
	code, body, err := c.status(ctx, "/v1/cluster")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/cluster: %d %s", code, body)
	}
	var out struct {
		Nodes []ClusterNode `json:"nodes"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return out.Nodes, nil
}

// WaitLive waits until the coordinator sees every named searcher live.
func (c *Cluster) WaitLive(ctx context.Context, t testing.TB, names ...string) {
	t.Helper()
	err := testwait.Until(ctx, harnessWait, pollEvery, func() error {
		for _, s := range c.Searchers {
			if !s.Running() {
				t.Fatalf("searcher %s exited:\n%s", s.Name, s.Log(4<<10))
			}
		}
		nodes, err := c.Nodes(ctx)
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for _, n := range nodes {
			live[n.Node] = n.Live
		}
		for _, n := range names {
			if !live[n] {
				return fmt.Errorf("nodes %+v", nodes)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for searchers %v to be live: %v", names, err)
	}
}
