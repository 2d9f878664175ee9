// Package testbroker starts, inside a test, an embedded NATS broker that
// refuses clients without credentials, as `shoal broker --auth-dir` does,
// and connects to it with the credentials of any role. It is test support
// and is never linked into the shoal binary.
package testbroker

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
)

// Connect opens a connection with the credentials of role (and node, for a
// searcher), closed when the test ends.
type Connect func(role broker.Role, node string, extra ...nats.Option) *nats.Conn

// Closed starts a closed broker with its data and auth directory under
// t.TempDir(), shut down when the test ends, and returns how to connect to
// it. Connections wait for ctx.
func Closed(ctx context.Context, t testing.TB) Connect {
	t.Helper()
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	if _, err := broker.InitAuth(auth); err != nil {
		t.Fatal(err)
	}
	srv, err := broker.StartServer(broker.ServerOptions{Listen: "127.0.0.1:-1", DataDir: filepath.Join(dir, "nats"), AuthDir: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	is, err := broker.OpenIssuer(auth)
	if err != nil {
		t.Fatal(err)
	}
	return func(role broker.Role, node string, extra ...nats.Option) *nats.Conn {
		t.Helper()
		creds, err := is.Issue(role, node)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := broker.Connect(ctx, srv.ClientURL(), string(role), append(creds.Options(), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}
