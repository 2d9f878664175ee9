// Package meta is the cluster's metadata model: index definitions (with
// their UID and validation), shard maps (placement records) and node
// heartbeats, as the typed entries of the JetStream KV buckets that hold
// them. The catalog reads and watches these buckets; searchers read them;
// both decode entries with the functions here.
package meta

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"time"
)

// Names of the JetStream KV buckets that hold the cluster's metadata.
const (
	// BucketIndexes maps an index name to its IndexDef.
	BucketIndexes = "shoal_indexes"
	// BucketPlacement maps an index name to its ShardMap.
	BucketPlacement = "shoal_placement"
	// BucketNodes maps a searcher node name to its latest NodeStatus
	// heartbeat; entries expire when a node stops beating.
	BucketNodes = "shoal_nodes"
)

var (
	indexNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	nodeNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

// ValidIndexName reports whether name can name an index: 1-64 characters of
// lower-case letters, digits, '-' and '_', starting with a letter or digit.
func ValidIndexName(name string) error {
	if !indexNameRE.MatchString(name) {
		return fmt.Errorf("invalid index name %q: use 1-64 characters a-z, 0-9, '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

// ValidNodeName reports whether name can name a searcher node.
func ValidNodeName(name string) error {
	if !nodeNameRE.MatchString(name) {
		return fmt.Errorf("invalid node name %q: use 1-64 characters A-Z, a-z, 0-9, '-' or '_'", name)
	}
	return nil
}

// MaxReportedFields bounds the field names a copy reports.
const MaxReportedFields = 256

// IndexDef is an index's definition, stored in BucketIndexes.
type IndexDef struct {
	Name string `json:"name"`
	// UID tells apart indexes created under the same name over time.
	UID      string              `json:"uid"`
	Shards   int                 `json:"shards"`
	Replicas int                 `json:"replicas"`
	Mapping  json.RawMessage     `json:"mapping,omitempty"`
	Facets   map[string]FacetDef `json:"facets,omitempty"`
	Created  time.Time           `json:"created"`
}

// FacetDef is a term facet an index defines for its search page.
type FacetDef struct {
	Field string `json:"field"`
	Size  int    `json:"size"`
}

// ShardMap says which nodes hold copies of each shard of an index; it is
// stored in BucketPlacement under the index name.
type ShardMap struct {
	Index string `json:"index"`
	// Copies[s] lists the nodes holding a copy of shard s; empty when the
	// shard has not been placed yet.
	Copies [][]string `json:"copies"`
}

// Holds reports whether node holds a copy of shard.
func (m *ShardMap) Holds(node string, shard int) bool {
	if shard < 0 || shard >= len(m.Copies) {
		return false
	}
	for _, n := range m.Copies[shard] {
		if n == node {
			return true
		}
	}
	return false
}

// NodeStatus is a searcher node's heartbeat, stored in BucketNodes.
type NodeStatus struct {
	Node      string       `json:"node"`
	Heartbeat time.Time    `json:"heartbeat"`
	Copies    []CopyStatus `json:"copies"`
	// Saturated, when set, says why the node cannot take requests now
	// (every worker busy for seconds).
	Saturated string `json:"saturated,omitempty"`
}

// CopyStatus describes one shard copy hosted by a node.
type CopyStatus struct {
	Index      string `json:"index"`
	Shard      int    `json:"shard"`
	Node       string `json:"node"`
	Docs       uint64 `json:"docs"`
	AppliedSeq uint64 `json:"applied_seq"`
	// Pending is the number of stream messages not yet applied.
	Pending  uint64 `json:"pending"`
	CaughtUp bool   `json:"caught_up"`
	// Rejected counts the writes the copy could not apply (an id of
	// another shard, a document Bleve refused); each is also logged.
	Rejected uint64 `json:"rejected,omitempty"`
	// Fields names the fields the copy's documents have (at most
	// MaxReportedFields; FieldsTruncated says there are more), so that a
	// coordinator can refuse a sort on a field no document has.
	Fields          []string `json:"fields,omitempty"`
	FieldsTruncated bool     `json:"fields_truncated,omitempty"`
}

// ShardOf is the shard a document id belongs to: FNV-1a of the id modulo the
// shard count. It must never change for existing indexes.
func ShardOf(id string, shards int) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(shards))
}
