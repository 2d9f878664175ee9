package meta

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on an index definition, checked by Validate.
const (
	MaxShards   = 256
	MaxReplicas = 16
	// MaxCopies bounds shards × replicas: every copy is a Bleve index on
	// a searcher and a consumer of the index's stream.
	MaxCopies    = 1024
	MaxFacetSize = 1000
)

// ErrInvalid is matched by errors.Is for every error Validate returns.
var ErrInvalid = errors.New("invalid index definition")

// InvalidError says which part of an index definition is wrong.
type InvalidError struct {
	// Kind is "settings", "mapping" or "name".
	Kind   string
	Reason string
}

func (e *InvalidError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Validate checks everything about d that can be checked without the
// cluster: its name, shard and replica counts, facets and mapping. Every
// path that creates an index calls it.
func (d *IndexDef) Validate() error {
	if err := ValidIndexName(d.Name); err != nil {
		return &InvalidError{Kind: "name", Reason: err.Error()}
	}
	if d.Shards < 1 || d.Shards > MaxShards {
		return &InvalidError{Kind: "settings", Reason: fmt.Sprintf("shards must be between 1 and %d", MaxShards)}
	}
	if d.Replicas < 1 || d.Replicas > MaxReplicas {
		return &InvalidError{Kind: "settings", Reason: fmt.Sprintf("replicas must be between 1 and %d (1 = a single copy)", MaxReplicas)}
	}
	if d.Shards*d.Replicas > MaxCopies {
		return &InvalidError{Kind: "settings", Reason: fmt.Sprintf("shards × replicas is %d; an index may have at most %d copies", d.Shards*d.Replicas, MaxCopies)}
	}
	for name, f := range d.Facets {
		if f.Field == "" || f.Size < 1 || f.Size > MaxFacetSize {
			return &InvalidError{Kind: "settings", Reason: fmt.Sprintf("facet %q needs a field and a size between 1 and %d", name, MaxFacetSize)}
		}
	}
	if _, err := BuildMapping(d.Mapping); err != nil {
		return &InvalidError{Kind: "mapping", Reason: err.Error()}
	}
	return nil
}

// DecodeIndexDef decodes an entry of BucketIndexes.
func DecodeIndexDef(raw []byte) (*IndexDef, error) {
	var d IndexDef
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("meta: index definition: %w", err)
	}
	return &d, nil
}

// DecodeShardMap decodes an entry of BucketPlacement.
func DecodeShardMap(raw []byte) (*ShardMap, error) {
	var m ShardMap
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("meta: shard map: %w", err)
	}
	return &m, nil
}

// DecodeNodeStatus decodes an entry of BucketNodes.
func DecodeNodeStatus(raw []byte) (*NodeStatus, error) {
	var n NodeStatus
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("meta: node status: %w", err)
	}
	return &n, nil
}
