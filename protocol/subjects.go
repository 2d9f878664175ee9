package protocol

import (
	"encoding/base64"
	"strconv"
)

// QueueGroup is the queue group every copy of a shard answers in, so one
// request reaches exactly one live copy.
const QueueGroup = "shoal"

// ShardService is the micro service name each hosted shard copy registers.
const ShardService = "shoal-shard"

// Shard operations, the last token of a shard request subject.
const (
	OpSearch    = "search"
	OpPresearch = "presearch"
	OpGet       = "get"
	OpStats     = "stats"
	OpWait      = "wait"
)

// StreamName is the JetStream stream holding an index's writes.
func StreamName(index string) string { return "SHOAL_" + index }

// IngestSubject is the subject a write of document id to shard is published
// on. The id is one subject token (base64url), so the stream can keep only
// the latest write of each document (MaxMsgsPerSubject = 1).
func IngestSubject(index string, shard int, id string) string {
	return "shoal.ingest." + index + "." + strconv.Itoa(shard) + "." + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// IngestStreamSubjects is the subject filter of an index's stream.
func IngestStreamSubjects(index string) string { return "shoal.ingest." + index + ".>" }

// IngestShardFilter is the subject filter that selects one shard's writes.
func IngestShardFilter(index string, shard int) string {
	return "shoal.ingest." + index + "." + strconv.Itoa(shard) + ".>"
}

// ShardSubject is the subject on which any caught-up copy of a shard answers
// op, in the QueueGroup.
func ShardSubject(index string, shard int, op string) string {
	return "shoal.shard." + index + "." + strconv.Itoa(shard) + "." + op
}

// ShardGroup is the micro endpoint group prefix for ShardSubject.
func ShardGroup(index string, shard int) string {
	return "shoal.shard." + index + "." + strconv.Itoa(shard)
}

// CopySubject is the subject on which the copy of a shard on one node
// answers op, so a coordinator can address (and fail over between) copies.
func CopySubject(node, index string, shard int, op string) string {
	return CopyGroup(node, index, shard) + "." + op
}

// CopyGroup is the micro endpoint group prefix for CopySubject.
func CopyGroup(node, index string, shard int) string {
	return "shoal.copy." + node + "." + index + "." + strconv.Itoa(shard)
}

// NodeService is the micro service name of a searcher node's own
// endpoints, which answer for every shard copy the node holds.
const NodeService = "shoal-node"

// NodeGroup is the micro endpoint group prefix for NodeSubject.
func NodeGroup(node string) string { return "shoal.node." + node }

// NodeSubject is the subject on which a searcher node answers op for
// several of its shard copies at once (OpSearch: NodeSearchRequest).
func NodeSubject(node, op string) string { return NodeGroup(node) + "." + op }
