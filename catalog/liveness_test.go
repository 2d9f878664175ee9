package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// TestLivenessWhenTheStoreGoesQuiet: a node that stops beating while
// another goes on counts as dead after NodeTimeout; when every node stops
// at once (the heartbeat store went quiet: a stream without a leader, a
// watcher moving to another broker), they stay live for StoreStall more,
// then count as dead.
func TestLivenessWhenTheStoreGoesQuiet(t *testing.T) {
	const timeout, stall = 400 * time.Millisecond, 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := testbroker.Closed(ctx, t)
	cat, err := catalog.Open(ctx, connect.JetStream(t, broker.RoleCoordinator, ""), catalog.Options{NodeTimeout: timeout, StoreStall: stall})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	conns := map[string]*nats.Conn{"s1": connect(broker.RoleSearcher, "s1"), "s2": connect(broker.RoleSearcher, "s2")}
	beat := func(node string) {
		raw, _ := json.Marshal(meta.NodeStatus{Node: node, Heartbeat: time.Now()})
		if err := conns[node].Publish("$KV."+meta.BucketNodes+"."+node, raw); err != nil {
			t.Fatal(err)
		}
	}
	liveIs := func(want ...string) func() error {
		return func() error {
			if got := cat.LiveNodes(); !slices.Equal(got, want) {
				return fmt.Errorf("live nodes %v, want %v", got, want)
			}
			for _, n := range want {
				if !cat.Live(n) {
					return fmt.Errorf("Live(%s) is false", n)
				}
			}
			return nil
		}
	}
	beat("s1")
	beat("s2")
	testwait.For(t, 5*time.Second, 10*time.Millisecond, liveIs("s1", "s2"))

	// s1 goes on beating, s2 stops: s2 is dead once its beat is older
	// than the timeout.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(timeout / 4):
				beat("s1")
			}
		}
	}()
	testwait.For(t, 5*time.Second, 10*time.Millisecond, liveIs("s1"))
	// s1 goes on until s2's beat is older than the timeout by s1's too.
	time.Sleep(2 * timeout)

	// Now nobody beats: s1 beat last and stays live past the timeout,
	// s2 stays dead; after the stall grace, s1 is dead too.
	close(stop)
	<-done
	time.Sleep(2 * timeout)
	if err := liveIs("s1")(); err != nil {
		t.Errorf("with no heartbeat from anyone for %v: %v", 2*timeout, err)
	}
	testwait.For(t, 2*stall, 20*time.Millisecond, liveIs())
}
