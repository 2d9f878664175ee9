// Package testcluster starts an all-in-one Shoal cluster (embedded NATS,
// searchers, coordinator, HTTP API) inside a test. It is test support and
// is never linked into the shoal binary.
package testcluster

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
)

// Start starts an all-in-one cluster for a test: its data lives in
// t.TempDir(), the broker and the HTTP API listen on free loopback ports,
// and it is closed when the test ends. It waits until the cluster is ready.
// Each opts function may adjust the options before the start (for example a
// small Frontend.Web.MaxBodyBytes). Logs go to stderr from level Warn on
// unless an option sets a Logger.
func Start(t testing.TB, searchers int, opts ...func(*cluster.Options)) *cluster.Cluster {
	t.Helper()
	o := cluster.Options{
		DataDir:    t.TempDir(),
		NATSListen: "127.0.0.1:-1",
		Searchers:  searchers,
		Frontend:   cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"},
	}
	for _, f := range opts {
		f(&o)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, o)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Logf("close cluster: %v", err)
		}
	})
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	return c
}

// Connect opens a connection to c's broker with new credentials for role
// (and node, for a searcher), closed when the test ends. Tests that watch
// or send NATS traffic beside the cluster's own roles use RoleAdmin.
func Connect(t testing.TB, c *cluster.Cluster, role broker.Role, node string) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := c.Connect(ctx, "test-"+string(role), role, node)
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
