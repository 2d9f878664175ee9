package searcher_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/searcher"
)

// closedBroker starts an embedded broker that refuses clients without
// credentials, as `shoal broker --auth-dir` does, and returns a function
// that connects with the credentials of role (and node, for a searcher),
// closed when the test ends.
func closedBroker(ctx context.Context, t *testing.T, dir string) func(role broker.Role, node string, extra ...nats.Option) *nats.Conn {
	t.Helper()
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

// TestStartWaitsForBuckets: a node started before any coordinator, with
// a searcher's permissions (it may not create the metadata buckets),
// waits for a coordinator to create them and then starts.
func TestStartWaitsForBuckets(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := closedBroker(ctx, t, dir)

	logs := &syncBuffer{}
	started := make(chan error, 1)
	go func() {
		n, err := searcher.Start(ctx, connect(broker.RoleSearcher, "early"), searcher.Options{
			Name: "early", DataDir: filepath.Join(dir, "early"),
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		if err == nil {
			t.Cleanup(func() { n.Close() })
		}
		started <- err
	}()
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-started:
			t.Fatalf("the node started without buckets: %v", err)
		default:
		}
		if !strings.Contains(logs.String(), "waiting for a coordinator") {
			return fmt.Errorf("not waiting yet; log:\n%s", logs.String())
		}
		return nil
	})

	js, err := jetstream.New(connect(broker.RoleCoordinator, ""))
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("start once the buckets exist: %v", err)
	}
	if _, err := buckets.Nodes.Get(ctx, "early"); err != nil {
		t.Fatalf("the node's heartbeat: %v", err)
	}
}

// TestCloseWithinPermissions: a node with a searcher's credentials starts
// and stops (as on SIGTERM) without the broker refusing anything it does,
// and removes its heartbeat. Stopping its placement watcher deletes the
// watcher's consumer: when that was refused, Close waited out the
// JetStream API's 5 s timeout with its heartbeat already stopped, so
// the coordinator's heal-after grace ran out that much sooner after the
// node had gone.
func TestCloseWithinPermissions(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := closedBroker(ctx, t, dir)
	js, err := jetstream.New(connect(broker.RoleCoordinator, ""))
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{})
	if err != nil {
		t.Fatal(err)
	}

	refused := make(chan error, 16)
	nc := connect(broker.RoleSearcher, "s1", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case refused <- err:
		default:
		}
	}))
	n, err := searcher.Start(ctx, nc, searcher.Options{Name: "s1", DataDir: filepath.Join(dir, "s1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buckets.Nodes.Get(ctx, "s1"); err != nil {
		t.Fatalf("the node's heartbeat: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The broker answers in order: once the flush is answered, any
	// refusal of what Close sent has arrived.
	if err := nc.FlushWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nc.LastError(); err != nil {
		t.Errorf("the broker refused the node something: %v", err)
	}
	select {
	case err := <-refused:
		t.Errorf("the broker refused the node something: %v", err)
	default:
	}
	if _, err := buckets.Nodes.Get(ctx, "s1"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("the heartbeat after close: %v, want it removed", err)
	}
}
