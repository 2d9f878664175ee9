package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// reflectFixture is a closed broker with the metadata buckets as the
// coordinators make them, one index definition, two heartbeats, and an
// index stream holding one document.
type reflectFixture struct {
	conn    testbroker.Connect
	buckets *meta.Buckets
	stream  string
}

func newReflectFixture(ctx context.Context, t *testing.T, conn testbroker.Connect, replicas int) *reflectFixture {
	t.Helper()
	js, err := jetstream.New(conn(broker.RoleCoordinator, ""))
	if err != nil {
		t.Fatal(err)
	}
	// A cluster's JetStream answers once its brokers have elected a leader.
	testwait.For(t, 30*time.Second, 10*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	buckets, err := meta.OpenBuckets(ctx, js, meta.BucketOptions{NodeTTL: time.Minute, Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buckets.Indexes.Put(ctx, "products", []byte(`{"name":"products"}`)); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"s1", "s2"} {
		sjs, err := jetstream.New(conn(broker.RoleSearcher, node))
		if err != nil {
			t.Fatal(err)
		}
		kv, err := sjs.KeyValue(ctx, meta.BucketNodes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, node, []byte(`{"node":"`+node+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	stream := protocol.StreamName("products")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{protocol.IngestStreamSubjects("products", "u1")}, Replicas: replicas}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, protocol.IngestSubject("products", "u1", 0, "d1"), []byte(`{"title":"a stored document"}`)); err != nil {
		t.Fatal(err)
	}
	return &reflectFixture{conn: conn, buckets: buckets, stream: stream}
}

// TestJetStreamReflection: JetStream answers an API call, and delivers a
// pull consumer's messages, to the reply subject the caller names; a
// caller must not be able to name a KV key it may not publish to and have
// the broker write there for it. Each attack is one a stolen credential
// could make; afterwards the attacked key and its bucket are as they were.
// On one broker, and on a cluster of three where the attacker's broker is
// not the one its request was answered on.
func TestJetStreamReflection(t *testing.T) {
	t.Run("OneBroker", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		reflectAttacks(ctx, t, newReflectFixture(ctx, t, testbroker.Closed(ctx, t), 1))
	})
	t.Run("ThreeBrokers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		reflectAttacks(ctx, t, newReflectFixture(ctx, t, testbroker.ClosedCluster(ctx, t, 3), 3))
	})
}

// reflectAttacks makes each attack on f and checks its target.
func reflectAttacks(ctx context.Context, t *testing.T, f *reflectFixture) {
	tests := []struct {
		name   string
		role   broker.Role
		node   string
		bucket jetstream.KeyValue
		key    string
		attack func(t *testing.T, nc *nats.Conn) error
	}{
		{
			name: "searcher: API answer into an index definition", role: broker.RoleSearcher, node: "s1",
			bucket: f.buckets.Indexes, key: "products",
			attack: func(_ *testing.T, nc *nats.Conn) error {
				return nc.PublishRequest("$JS.API.INFO", "$KV."+meta.BucketIndexes+".products", nil)
			},
		},
		{
			name: "coordinator: API answer into a searcher's heartbeat", role: broker.RoleCoordinator,
			bucket: f.buckets.Nodes, key: "s2",
			attack: func(_ *testing.T, nc *nats.Conn) error {
				return nc.PublishRequest("$JS.API.INFO", "$KV."+meta.BucketNodes+".s2", nil)
			},
		},
		{
			name: "searcher: API answer into another searcher's heartbeat", role: broker.RoleSearcher, node: "s1",
			bucket: f.buckets.Nodes, key: "s2",
			attack: func(_ *testing.T, nc *nats.Conn) error {
				return nc.PublishRequest("$JS.API.INFO", "$KV."+meta.BucketNodes+".s2", nil)
			},
		},
		{
			name: "searcher: stored document into an index definition", role: broker.RoleSearcher, node: "s1",
			bucket: f.buckets.Indexes, key: "products",
			attack: func(t *testing.T, nc *nats.Conn) error {
				return pullInto(ctx, t, nc, f.stream, "$KV."+meta.BucketIndexes+".products")
			},
		},
		{
			name: "searcher: rollup of the heartbeats", role: broker.RoleSearcher, node: "s1",
			bucket: f.buckets.Nodes, key: "s2",
			attack: func(_ *testing.T, nc *nats.Conn) error {
				m := nats.NewMsg("$KV." + meta.BucketNodes + ".s1")
				m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupAll)
				m.Data = []byte(`{"node":"s1"}`)
				return nc.PublishMsg(m)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := tc.bucket.Get(ctx, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			msgs := bucketMsgs(ctx, t, tc.bucket)
			nc := f.conn(tc.role, tc.node, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if err := tc.attack(t, nc); err != nil {
				t.Fatal(err)
			}
			if err := nc.FlushWithContext(ctx); err != nil {
				t.Fatal(err)
			}
			assertUnchanged(ctx, t, tc.bucket, tc.key, before, msgs)
		})
	}
}

// pullInto makes a pull consumer on stream, as a searcher may (one
// shard's writes), and asks for its next message with reply as the reply
// subject.
func pullInto(ctx context.Context, t *testing.T, nc *nats.Conn, stream, reply string) error {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Name:          "reflect",
		FilterSubject: protocol.IngestShardFilter("products", "u1", 0),
		AckPolicy:     jetstream.AckNonePolicy,
	})
	if err != nil {
		return err
	}
	return nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+stream+"."+cons.CachedInfo().Name, reply, []byte(`{"batch":1}`))
}

// reflectWindow is how long a key must stay as it was after an attack.
// The broker reflects within milliseconds when it does.
const reflectWindow = time.Second

// bucketMsgs is how many messages the stream behind kv holds: a message
// reflected onto a bucket's subjects lands there even when it is no key
// (a consumer's message keeps its stream subject).
func bucketMsgs(ctx context.Context, t *testing.T, kv jetstream.KeyValue) uint64 {
	t.Helper()
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.Msgs
}

// assertUnchanged fails t if key's entry in kv differs from before, or the
// bucket's stream holds another number of messages than msgs, at any time
// within reflectWindow.
func assertUnchanged(ctx context.Context, t *testing.T, kv jetstream.KeyValue, key string, before jetstream.KeyValueEntry, msgs uint64) {
	t.Helper()
	deadline := time.Now().Add(reflectWindow)
	for time.Now().Before(deadline) {
		if n := bucketMsgs(ctx, t, kv); n != msgs {
			t.Fatalf("%s holds %d messages, %d before", kv.Bucket(), n, msgs)
		}
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			t.Fatalf("%s/%s is gone", kv.Bucket(), key)
		case err != nil:
			t.Fatal(err)
		case e.Revision() != before.Revision():
			t.Fatalf("%s/%s was rewritten: %.80q", kv.Bucket(), key, e.Value())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
