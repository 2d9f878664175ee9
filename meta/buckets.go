package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Buckets holds the JetStream KV buckets with the cluster's metadata.
type Buckets struct {
	Indexes   jetstream.KeyValue
	Placement jetstream.KeyValue
	Nodes     jetstream.KeyValue
}

// BucketOptions configure the metadata buckets.
type BucketOptions struct {
	// Replicas is the number of broker nodes that keep each bucket
	// (1 for a single server, 3 for a three-node cluster).
	Replicas int
	// NodeTTL is how long a node's heartbeat survives without renewal.
	NodeTTL time.Duration
}

// OpenBuckets creates (or opens) the metadata buckets. Coordinators do;
// searchers may not create them (LookupBuckets).
func OpenBuckets(ctx context.Context, js jetstream.JetStream, o BucketOptions) (*Buckets, error) {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 30 * time.Second
	}
	open := func(cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		cfg.Replicas = o.Replicas
		cfg.Storage = jetstream.FileStorage
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			return kv, nil
		}
		// Create, never update: a coordinator may not reconfigure the
		// buckets (broker/permissions.go). One made meanwhile by another
		// coordinator, with another configuration, is opened as it is.
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
		if err != nil {
			return nil, fmt.Errorf("broker: bucket %s: %w", cfg.Bucket, err)
		}
		return kv, nil
	}
	var m Buckets
	var err error
	if m.Indexes, err = open(jetstream.KeyValueConfig{Bucket: BucketIndexes, History: 1}); err != nil {
		return nil, err
	}
	if m.Placement, err = open(jetstream.KeyValueConfig{Bucket: BucketPlacement, History: 1}); err != nil {
		return nil, err
	}
	if m.Nodes, err = openNodes(ctx, js, o); err != nil {
		return nil, err
	}
	return &m, nil
}

// openNodes creates (or opens) the heartbeat bucket. It is a KV bucket as
// nats.go makes one (CreateKeyValue), except that it refuses rollups: a
// searcher may write its own heartbeat key, and a message there with the
// header Nats-Rollup: all would otherwise purge every node's heartbeat.
// Nothing in Shoal purges this bucket (a node deletes its key).
func openNodes(ctx context.Context, js jetstream.JetStream, o BucketOptions) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, BucketNodes)
	if err == nil {
		return kv, nil
	}
	dup := 2 * time.Minute
	if o.NodeTTL < dup {
		dup = o.NodeTTL
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:              "KV_" + BucketNodes,
		Subjects:          []string{"$KV." + BucketNodes + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxAge:            o.NodeTTL,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		AllowRollup:       false,
		DenyDelete:        true,
		AllowDirect:       true,
		Duplicates:        dup,
		Discard:           jetstream.DiscardNew,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("broker: bucket %s: %w", BucketNodes, err)
	}
	if kv, err = js.KeyValue(ctx, BucketNodes); err != nil {
		return nil, fmt.Errorf("broker: bucket %s: %w", BucketNodes, err)
	}
	return kv, nil
}

// LookupBuckets opens the metadata buckets without creating them, as a
// searcher does: its NATS permissions let it read them, not create them.
// It fails with an error wrapping jetstream.ErrBucketNotFound while a
// bucket does not exist yet.
func LookupBuckets(ctx context.Context, js jetstream.JetStream) (*Buckets, error) {
	var m Buckets
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{BucketIndexes, &m.Indexes}, {BucketPlacement, &m.Placement}, {BucketNodes, &m.Nodes}} {
		kv, err := js.KeyValue(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("broker: bucket %s: %w", b.name, err)
		}
		*b.kv = kv
	}
	return &m, nil
}
