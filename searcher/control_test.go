package searcher_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/searcher"
)

// TestControlConnectionBeatsOnlyForALiveNode: a node's heartbeats take its
// control connection, but only while its own connection (the one its
// subscriptions are on) is up: a node that lost it stops counting as live
// even though the control connection still reaches the broker.
func TestControlConnectionBeatsOnlyForALiveNode(t *testing.T) {
	c := testcluster.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const name = "extra"
	nc := testcluster.Connect(t, c, broker.RoleSearcher, name)
	ctl := testcluster.Connect(t, c, broker.RoleSearcher, name)
	n, err := searcher.Start(ctx, nc, searcher.Options{Name: name, DataDir: t.TempDir(), Control: ctl, HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cat := c.Frontend.Catalog
	testwait.For(t, 20*time.Second, 50*time.Millisecond, func() error {
		if !cat.Live(name) {
			return errors.New("the node never counted as live")
		}
		return nil
	})
	nc.Close()
	testwait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
		if cat.Live(name) {
			return errors.New("a node without its connection still counts as live")
		}
		return nil
	})
	if !ctl.IsConnected() {
		t.Fatal("the control connection went down too: the test proves nothing")
	}
}
