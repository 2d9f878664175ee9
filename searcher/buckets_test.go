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
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/searcher"
)

// TestStartWaitsForBuckets: a node started before any coordinator, with
// a searcher's permissions (it may not create the metadata buckets),
// waits for a coordinator to create them and then starts.
func TestStartWaitsForBuckets(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := testbroker.Closed(ctx, t)

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

	js := connect.JetStream(t, broker.RoleCoordinator, "")
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
	connect := testbroker.Closed(ctx, t)
	js := connect.JetStream(t, broker.RoleCoordinator, "")
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
