package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// TestForgedHeartbeatIgnored: an entry of the nodes bucket counts as a
// node's heartbeat only if it names the node of its key. Before the
// streams moved to an account of their own (broker/accounts.go), a
// searcher's credentials could have JetStream store an API answer under
// any key of any bucket, such as a node that does not exist; taken as a
// heartbeat, that made a live node named "" which shards were placed on.
// The broker refuses that now (broker/reflect_test.go); the check stays,
// and admin, who may write anything, stores such entries here.
func TestForgedHeartbeatIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := testbroker.Closed(ctx, t)
	js := connect.JetStream(t, broker.RoleCoordinator, "")
	cat, err := catalog.Open(ctx, js, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	nodes := cat.Buckets().Nodes

	s1 := connect(broker.RoleSearcher, "s1")
	admin := connect(broker.RoleAdmin, "")
	for _, forged := range []string{"fake", "s2"} {
		if err := admin.Publish("$KV."+meta.BucketNodes+"."+forged, []byte(`{"type":"io.nats.jetstream.api.v1.account_info_response"}`)); err != nil {
			t.Fatal(err)
		}
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		for _, forged := range []string{"fake", "s2"} {
			if _, err := nodes.Get(ctx, forged); err != nil {
				return fmt.Errorf("the forged entry %q is not stored: %w", forged, err)
			}
		}
		return nil
	})
	// s1's own heartbeat, after the forged entries: once the catalog
	// has it, it has seen them.
	beat, _ := json.Marshal(meta.NodeStatus{Node: "s1", Heartbeat: time.Now()})
	if err := s1.Publish("$KV."+meta.BucketNodes+".s1", beat); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if live := cat.LiveNodes(); !slices.Contains(live, "s1") {
			return fmt.Errorf("live nodes %q, want s1", live)
		}
		return nil
	})
	if live := cat.LiveNodes(); !slices.Equal(live, []string{"s1"}) {
		t.Errorf("live nodes %q, want only s1: forged heartbeats were taken", live)
	}
}
