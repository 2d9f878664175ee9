package searcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// TestAnswersOnlyInboxes: a node's permission to answer covers any reply
// subject the requester names, so a coordinator asking with another
// node's heartbeat key as the reply would have the node write its answer
// there. The node answers only inboxes: the heartbeat stays the other
// node's own.
func TestAnswersOnlyInboxes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := testcluster.Start(t, 2)
	asked, other := c.Searcher(0).Name(), c.Searcher(1).Name()
	js, err := jetstream.New(testcluster.Connect(t, c, broker.RoleAdmin, ""))
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := js.KeyValue(ctx, meta.BucketNodes)
	if err != nil {
		t.Fatal(err)
	}
	w, err := nodes.Watch(ctx, other, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	nc := testcluster.Connect(t, c, broker.RoleCoordinator, "")
	for _, subject := range []string{protocol.NodeSubject(asked, protocol.OpSearch), protocol.CopySubject(asked, "none", 0, protocol.OpStats)} {
		if err := nc.PublishRequest(subject, "$KV."+meta.BucketNodes+"."+other, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// Heartbeats go on meanwhile; each must still be the other node's.
	deadline := time.After(2 * time.Second)
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				continue
			}
			st, err := meta.DecodeNodeStatus(e.Value())
			if err != nil || st.Node != other {
				t.Fatalf("%s's heartbeat key holds %.80q (%v)", other, e.Value(), err)
			}
		case <-deadline:
			return
		}
	}
}
