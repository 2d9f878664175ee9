package searcher_test

import (
	"context"
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

// TestStartWaitsForBuckets: a node started before any coordinator, with
// a searcher's permissions (it may not create the metadata buckets),
// waits for a coordinator to create them and then starts.
func TestStartWaitsForBuckets(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(role broker.Role, node string) *nats.Conn {
		creds, err := is.Issue(role, node)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := broker.Connect(ctx, srv.ClientURL(), string(role), creds.Options()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}

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
