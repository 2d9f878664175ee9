package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// streamDefKey is the stream metadata key that keeps a copy of the index
// definition, so that a lost catalog can be rebuilt from the streams.
const streamDefKey = "shoal_index_def"

// Problems lists what keeps the cluster from answering in full, beside
// shards without a serving copy: a metadata bucket or an index's stream
// that is missing, a searcher that cannot take requests. Each problem says
// how to repair it when Shoal cannot do so itself.
func (c *Catalog) Problems(ctx context.Context) []string {
	var out []string
	for _, b := range []string{meta.BucketIndexes, meta.BucketPlacement, meta.BucketNodes} {
		if _, err := c.js.KeyValue(ctx, b); errors.Is(err, jetstream.ErrBucketNotFound) {
			out = append(out, fmt.Sprintf("the catalog bucket %s is missing: restart the coordinator, which re-creates it and restores the index definitions from the streams", b))
		} else if err != nil {
			out = append(out, fmt.Sprintf("the catalog bucket %s cannot be read: %v", b, err))
		}
	}
	have := map[string]bool{}
	names := c.js.StreamNames(ctx)
	for n := range names.Name() {
		have[n] = true
	}
	if err := names.Err(); err != nil {
		return append(out, fmt.Sprintf("the streams cannot be listed: %v", err))
	}
	for _, def := range c.Indexes() {
		if !have[protocol.StreamName(def.Name)] {
			out = append(out, fmt.Sprintf("the stream %s of index %s is missing: its writes fail; delete and re-create the index, then index its documents again", protocol.StreamName(def.Name), def.Name))
		}
	}
	c.mu.RLock()
	now := time.Now()
	for _, n := range c.nodes {
		if n.Saturated != "" && c.live(n, now) {
			out = append(out, fmt.Sprintf("searcher %s cannot take requests: %s", n.Node, n.Saturated))
		}
	}
	c.mu.RUnlock()
	sort.Strings(out)
	return out
}

// restoreDefs puts back the index definitions that the catalog lacks but
// whose streams keep a copy (a catalog bucket deleted or lost), never one
// that was deleted. It runs when the catalog opens.
func (c *Catalog) restoreDefs(ctx context.Context) error {
	streams := c.js.ListStreams(ctx)
	var errs []error
	for info := range streams.Info() {
		raw, ok := info.Config.Metadata[streamDefKey]
		if !ok || !strings.HasPrefix(info.Config.Name, protocol.StreamName("")) {
			continue
		}
		var def meta.IndexDef
		if err := json.Unmarshal([]byte(raw), &def); err != nil || protocol.StreamName(def.Name) != info.Config.Name {
			errs = append(errs, fmt.Errorf("stream %s: bad index definition in its metadata: %v", info.Config.Name, err))
			continue
		}
		// Only a key that the bucket never held is restored. A key whose
		// last entry is a delete marker is an index being deleted: its
		// stream goes before its key, but this list may have been taken
		// before that, and restoring it would bring back an index whose
		// stream is gone.
		if _, err := c.buckets.Indexes.History(ctx, def.Name); !errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if _, err := c.buckets.Indexes.Create(ctx, def.Name, []byte(raw)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			errs = append(errs, fmt.Errorf("restore index %s: %w", def.Name, err))
			continue
		}
		c.log.Warn("catalog: restored an index definition from its stream", "index", def.Name, "uid", def.UID)
	}
	if err := streams.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
