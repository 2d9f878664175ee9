package cluster_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
)

// startFrontend starts a frontend on c's broker with options o, logging
// into log.
func startFrontend(t *testing.T, c *cluster.Cluster, o cluster.FrontendOptions, log *syncBuffer) *cluster.Frontend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := c.Connect(ctx, "frontend-test", broker.RoleCoordinator, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	o.Logger = slog.New(slog.NewTextHandler(log, nil))
	f, err := cluster.StartFrontend(ctx, nc, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// String is everything logged so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOpenListenerWarning: a frontend that listens beyond loopback with
// no key says so at startup; on loopback, or with a key, it does not.
func TestOpenListenerWarning(t *testing.T) {
	c := testcluster.Start(t, 1)
	for _, tt := range []struct {
		addr, key string
		warn      bool
	}{
		{"0.0.0.0:0", "", true},
		{"0.0.0.0:0", "master", false},
		{"127.0.0.1:0", "", false},
	} {
		var log syncBuffer
		o := cluster.FrontendOptions{HTTPAddr: tt.addr}
		o.Web.APIKey = tt.key
		startFrontend(t, c, o, &log)
		if got := strings.Contains(log.String(), "SECURITY: the HTTP API listens on"); got != tt.warn {
			t.Errorf("listening on %s with key %q: warned %v, want %v; log:\n%s", tt.addr, tt.key, got, tt.warn, log.String())
		}
	}
}
