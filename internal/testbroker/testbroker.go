// Package testbroker starts, inside a test, an embedded NATS broker that
// refuses clients without credentials, as `shoal broker --auth-dir` does,
// and connects to it with the credentials of any role. It is test support
// and is never linked into the shoal binary.
package testbroker

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
)

// Connect opens a connection with the credentials of role (and node, for a
// searcher), closed when the test ends.
type Connect func(role broker.Role, node string, extra ...nats.Option) *nats.Conn

// JetStream connects with the credentials of role (and node) and returns
// the connection's JetStream context.
func (c Connect) JetStream(t testing.TB, role broker.Role, node string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(c(role, node))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Closed starts a closed broker with its data and auth directory under
// t.TempDir(), shut down when the test ends, and returns how to connect to
// it. Connections wait for ctx.
func Closed(ctx context.Context, t testing.TB) Connect {
	t.Helper()
	return ClosedCluster(ctx, t, 1)
}

// ClosedCluster is Closed for a JetStream cluster of n brokers sharing one
// auth directory. Connections go to the brokers in turn, the first to the
// first broker, so that roles connected one after another sit on
// different brokers.
func ClosedCluster(ctx context.Context, t testing.TB, n int) Connect {
	t.Helper()
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	if _, err := broker.InitAuth(auth); err != nil {
		t.Fatal(err)
	}
	urls := startBrokers(t, dir, auth, n)
	is, err := broker.OpenIssuer(auth)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	return func(role broker.Role, node string, extra ...nats.Option) *nats.Conn {
		t.Helper()
		creds, err := is.Issue(role, node)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		url := urls[next%len(urls)]
		next++
		mu.Unlock()
		nc, err := broker.Connect(ctx, url, string(role), append(creds.Options(), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

// startBrokers starts n brokers trusting auth (routed to each other when
// n > 1), shut down when the test ends, and returns their client URLs.
func startBrokers(t testing.TB, dir, auth string, n int) []string {
	t.Helper()
	var routes []string
	if n > 1 {
		for range n {
			routes = append(routes, "nats://"+freeAddr(t))
		}
	}
	urls := make([]string, n)
	for i := range n {
		o := broker.ServerOptions{
			Name: fmt.Sprintf("b%d", i+1), Listen: "127.0.0.1:-1",
			DataDir: filepath.Join(dir, fmt.Sprintf("nats%d", i+1)), AuthDir: auth,
		}
		if n > 1 {
			o.ClusterListen, o.Routes = strings.TrimPrefix(routes[i], "nats://"), routes
		}
		srv, err := broker.StartServer(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		urls[i] = srv.ClientURL()
	}
	return urls
}

// freeAddr is a TCP address on 127.0.0.1 that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
