package meta

import (
	"context"
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

// OpenBuckets creates (or opens) the metadata buckets.
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
		kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
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
	if m.Nodes, err = open(jetstream.KeyValueConfig{Bucket: BucketNodes, History: 1, TTL: o.NodeTTL}); err != nil {
		return nil, err
	}
	return &m, nil
}
