package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// natsProbe is a test's own NATS client of a cluster's broker, with the
// broker's asynchronous refusals ("Permissions Violation for ...")
// collected as they come.
type natsProbe struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

// probe connects to c's broker with the credentials file creds.
func (c *Cluster) probe(t *testing.T, creds string) *natsProbe {
	t.Helper()
	p := &natsProbe{errs: make(chan error, 64)}
	opts := append(c.NATSOptions(t, creds), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case p.errs <- err:
		default:
		}
	}))
	nc, err := nats.Connect(c.NATSURL, opts...)
	if err != nil {
		t.Fatalf("connect with %s: %v", creds, err)
	}
	t.Cleanup(nc.Close)
	p.nc = nc
	if p.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return p
}

// refused runs op, which the broker must refuse by permission: it waits
// for the broker's violation naming subject, then ends op (a refused
// request would otherwise wait for its deadline). What op was to change
// the caller checks afterwards, through an admin client.
func (p *natsProbe) refused(t *testing.T, subject string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	deadline := time.After(10 * time.Second)
	want := `Permissions Violation for `
	for {
		select {
		case err := <-p.errs:
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+subject+`"`) {
				continue
			}
			cancel()
			<-done
			return
		case <-deadline:
			cancel()
			t.Fatalf("no permissions violation for %q within 10s (op: %v)", subject, <-done)
		}
	}
}

// bucket opens a metadata bucket through p.
func (p *natsProbe) bucket(t *testing.T, name string) jetstream.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := p.js.KeyValue(ctx, name)
	if err != nil {
		t.Fatalf("open bucket %s: %v", name, err)
	}
	return kv
}

// TestNATSAuthorization: with `shoal broker --auth-dir`, an anonymous client
// cannot connect, and each role's credentials let it do its job and
// nothing else: the broker refuses what the permissions do not allow, and
// an admin client sees that nothing changed.
func TestNATSAuthorization(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 1, HealAfter: -1, Refusals: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index = "perm"
	createIndex(ctx, t, c.Client, index, 2, 1)
	if res, err := c.Client.Bulk(ctx, index, []byte(`{"id":"a","title":"real"}`+"\n"), true); err != nil || res.Indexed != 1 {
		t.Fatalf("bulk: %+v %v", res, err)
	}

	t.Run("AnonymousRefused", func(t *testing.T) {
		nc, err := nats.Connect(c.NATSURL, c.NATSOptions(t, "")...)
		if err == nil {
			nc.Close()
			t.Fatal("an anonymous client connected")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("connect error %q, want an authorization violation", err)
		}
	})

	// A searcher identity of its own: what one compromised node can do.
	rogueCreds := c.MakeCreds(t, broker.RoleSearcher, "rogue")
	admin := c.probe(t, c.CredsFile(broker.RoleAdmin, ""))
	rogue := c.probe(t, rogueCreds)
	coord := c.probe(t, c.CredsFile(broker.RoleCoordinator, ""))
	def := readIndexDef(ctx, t, admin, index)

	t.Run("SearcherCanDoItsJob", func(t *testing.T) {
		testSearcherJob(ctx, t, rogue, coord)
	})
	t.Run("Searcher", func(t *testing.T) {
		testSearcherRefused(ctx, t, rogue, coord, admin, def)
	})
	t.Run("Coordinator", func(t *testing.T) {
		testCoordinatorRefused(ctx, t, coord, admin)
	})
}

func readIndexDef(ctx context.Context, t *testing.T, admin *natsProbe, index string) *meta.IndexDef {
	t.Helper()
	e, err := admin.bucket(t, meta.BucketIndexes).Get(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	def, err := meta.DecodeIndexDef(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// testSearcherJob: the positive controls, so that the refusals below
// mean something: a searcher answers requests sent to its own node and
// writes its own heartbeat.
func testSearcherJob(ctx context.Context, t *testing.T, rogue, coord *natsProbe) {
	sub, err := rogue.nc.Subscribe(protocol.NodeSubject("rogue", protocol.OpSearch), func(m *nats.Msg) { _ = m.Respond([]byte("pong")) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := rogue.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := coord.nc.RequestWithContext(ctx, protocol.NodeSubject("rogue", protocol.OpSearch), []byte("ping"))
	if err != nil || string(msg.Data) != "pong" {
		t.Fatalf("a searcher's reply to a request sent to it: %v %v", msg, err)
	}
	nodes := rogue.bucket(t, meta.BucketNodes)
	if _, err := nodes.Put(ctx, "rogue", []byte(`{"node":"rogue"}`)); err != nil {
		t.Fatalf("a searcher's own heartbeat: %v", err)
	}
	if err := nodes.Delete(ctx, "rogue"); err != nil {
		t.Fatalf("removing its own heartbeat: %v", err)
	}
}

func testSearcherRefused(ctx context.Context, t *testing.T, rogue, coord, admin *natsProbe, def *meta.IndexDef) {
	stream := protocol.StreamName(def.Name)
	forged := protocol.IngestSubject(def.Name, def.UID, meta.ShardOf("forged", def.Shards), "forged")
	t.Run("PublishIngest", func(t *testing.T) {
		rogue.refused(t, forged, func(ctx context.Context) error {
			_, err := rogue.js.Publish(ctx, forged, []byte(`{"title":"forged"}`))
			return err
		})
		s, err := admin.js.Stream(ctx, stream)
		if err != nil || s.CachedInfo().State.Msgs != 1 {
			t.Fatalf("stream %s after the forged write: %v %v, want 1 message", stream, s, err)
		}
	})
	for _, subject := range []string{">", protocol.NodeSubject("s1", protocol.OpSearch), protocol.ShardSubject(def.Name, 0, protocol.OpSearch)} {
		t.Run("Subscribe "+subject, func(t *testing.T) {
			rogue.refused(t, subject, func(context.Context) error {
				_, err := rogue.nc.SubscribeSync(subject)
				return errors.Join(err, rogue.nc.Flush())
			})
		})
	}
	t.Run("AnswerAnotherRequest", func(t *testing.T) {
		inbox := coord.nc.NewInbox()
		sub, err := coord.nc.SubscribeSync(inbox)
		if err == nil {
			err = coord.nc.Flush()
		}
		if err != nil {
			t.Fatal(err)
		}
		rogue.refused(t, inbox, func(context.Context) error {
			return errors.Join(rogue.nc.Publish(inbox, []byte("forged hits")), rogue.nc.Flush())
		})
		// The broker refuses a message as it reads it, before it could be
		// delivered; this only confirms nothing came.
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("the coordinator's inbox received %q", m.Data)
		}
	})
	testSearcherBuckets(ctx, t, rogue, admin, def)
	t.Run("DeleteStream", func(t *testing.T) {
		rogue.refused(t, "$JS.API.STREAM.DELETE."+stream, func(ctx context.Context) error {
			return rogue.js.DeleteStream(ctx, stream)
		})
		if _, err := admin.js.Stream(ctx, stream); err != nil {
			t.Fatalf("stream %s after the delete: %v", stream, err)
		}
	})
}

// testSearcherBuckets: a searcher cannot write the catalog or the
// placement, heartbeat as another node, read the API keys' hashes, remove
// the coordinators' watchers, or delete a bucket.
func testSearcherBuckets(ctx context.Context, t *testing.T, rogue, admin *natsProbe, def *meta.IndexDef) {
	t.Run("WriteCatalog", func(t *testing.T) {
		kv := rogue.bucket(t, meta.BucketIndexes)
		rogue.refused(t, "$KV."+meta.BucketIndexes+".forged", func(ctx context.Context) error {
			_, err := kv.Put(ctx, "forged", []byte(`{"name":"forged"}`))
			return err
		})
		if _, err := admin.bucket(t, meta.BucketIndexes).Get(ctx, "forged"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("forged index definition: %v", err)
		}
	})
	t.Run("WritePlacement", func(t *testing.T) {
		before, err := admin.bucket(t, meta.BucketPlacement).Get(ctx, def.Name)
		if err != nil {
			t.Fatal(err)
		}
		kv := rogue.bucket(t, meta.BucketPlacement)
		forged, _ := json.Marshal(meta.ShardMap{Index: def.Name, Copies: [][]string{{"rogue"}, {"rogue"}}})
		rogue.refused(t, "$KV."+meta.BucketPlacement+"."+def.Name, func(ctx context.Context) error {
			_, err := kv.Put(ctx, def.Name, forged)
			return err
		})
		after, err := admin.bucket(t, meta.BucketPlacement).Get(ctx, def.Name)
		if err != nil || after.Revision() != before.Revision() {
			t.Fatalf("placement changed: revision %d → %v (%v)", before.Revision(), after, err)
		}
	})
	t.Run("HeartbeatAsAnotherNode", func(t *testing.T) {
		kv := rogue.bucket(t, meta.BucketNodes)
		rogue.refused(t, "$KV."+meta.BucketNodes+".s1", func(ctx context.Context) error {
			_, err := kv.Put(ctx, "s1", []byte(`{"node":"s1","copies":[]}`))
			return err
		})
		e, err := admin.bucket(t, meta.BucketNodes).Get(ctx, "s1")
		if err != nil || bytes.Contains(e.Value(), []byte(`"copies":[]`)) {
			t.Fatalf("s1's heartbeat: %v %v", e, err)
		}
	})
	t.Run("ReadAPIKeys", func(t *testing.T) {
		kv := rogue.bucket(t, meta.BucketKeys)
		rogue.refused(t, "$JS.API.DIRECT.GET.KV_"+meta.BucketKeys+".$KV."+meta.BucketKeys+".any", func(ctx context.Context) error {
			_, err := kv.Get(ctx, "any")
			return err
		})
	})
	// A searcher may delete its own placement watcher's consumer (nats.go
	// does when the watch stops); those of the other buckets are only ever
	// the coordinators'.
	for _, b := range []string{meta.BucketIndexes, meta.BucketNodes, meta.BucketKeys} {
		t.Run("DeleteConsumer KV_"+b, func(t *testing.T) {
			rogue.refused(t, "$JS.API.CONSUMER.DELETE.KV_"+b+".watcher", func(ctx context.Context) error {
				return rogue.js.DeleteConsumer(ctx, "KV_"+b, "watcher")
			})
		})
	}
	t.Run("DeleteBucket", func(t *testing.T) {
		rogue.refused(t, "$JS.API.STREAM.DELETE.KV_"+meta.BucketIndexes, func(ctx context.Context) error {
			return rogue.js.DeleteKeyValue(ctx, meta.BucketIndexes)
		})
		admin.bucket(t, meta.BucketIndexes)
	})
}

// testCoordinatorRefused: the coordinators' credentials cannot heartbeat
// as a searcher, listen to the requests meant for searchers, or delete a
// metadata bucket.
func testCoordinatorRefused(ctx context.Context, t *testing.T, coord, admin *natsProbe) {
	t.Run("HeartbeatAsSearcher", func(t *testing.T) {
		kv := coord.bucket(t, meta.BucketNodes)
		coord.refused(t, "$KV."+meta.BucketNodes+".fake", func(ctx context.Context) error {
			_, err := kv.Put(ctx, "fake", []byte(`{"node":"fake"}`))
			return err
		})
		if _, err := admin.bucket(t, meta.BucketNodes).Get(ctx, "fake"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("a fake node's heartbeat: %v", err)
		}
	})
	t.Run("ListenToSearchers", func(t *testing.T) {
		coord.refused(t, protocol.AllNodeRequests, func(context.Context) error {
			_, err := coord.nc.SubscribeSync(protocol.AllNodeRequests)
			return errors.Join(err, coord.nc.Flush())
		})
	})
	for _, b := range []string{meta.BucketIndexes, meta.BucketPlacement, meta.BucketNodes, meta.BucketKeys} {
		t.Run("DeleteBucket "+b, func(t *testing.T) {
			coord.refused(t, "$JS.API.STREAM.DELETE.KV_"+b, func(ctx context.Context) error {
				return coord.js.DeleteKeyValue(ctx, b)
			})
			admin.bucket(t, b)
		})
	}
}

// TestOfficialNATSServer: the official nats-server, run with the
// nats-server.conf `shoal creds` writes, serves a whole cluster, refuses
// anonymous clients and enforces the credentials' permissions.
func TestOfficialNATSServer(t *testing.T) {
	skipShort(t)
	natsServer := filepath.Join(t.TempDir(), "nats-server")
	build := exec.Command(goCommand(), "build", "-o", natsServer, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build nats-server: %v\n%s", err, out)
	}
	c := StartCluster(t, shoalBin, Options{Searchers: 2, HealAfter: -1, NATSServer: natsServer, Refusals: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index = "official"
	createIndex(ctx, t, c.Client, index, 2, 1)
	if res, err := c.Client.Bulk(ctx, index, []byte(`{"id":"a","title":"served by nats-server"}`+"\n"), true); err != nil || res.Indexed != 1 {
		t.Fatalf("bulk: %+v %v", res, err)
	}
	if r := search(ctx, c.Client, index, "served", 5*time.Second, false); r.err != nil || r.res.TotalHits != 1 {
		t.Fatalf("search: %+v %v", r.res, r.err)
	}
	if nc, err := nats.Connect(c.NATSURL, c.NATSOptions(t, "")...); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	}
	rogue := c.probe(t, c.MakeCreds(t, broker.RoleSearcher, "rogue"))
	rogue.refused(t, protocol.AllIngest, func(context.Context) error {
		_, err := rogue.nc.SubscribeSync(protocol.AllIngest)
		return errors.Join(err, rogue.nc.Flush())
	})
}
