package protocol

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// QueueGroup is the queue group every copy of a shard answers in, so one
// request reaches exactly one live copy.
const QueueGroup = "shoal"

// Shard operations, the last token of a shard request subject.
const (
	OpSearch    = "search"
	OpPresearch = "presearch"
	OpGet       = "get"
	OpStats     = "stats"
	OpWait      = "wait"
	// OpCancel, on a node's subject (NodeSubject), stops the search whose
	// request id is the payload: its answer is no longer awaited.
	OpCancel = "cancel"
)

// StreamName is the JetStream stream holding an index's writes.
func StreamName(index string) string { return "SHOAL_" + index }

// IngestSubject is the subject a write of document id to shard of one
// incarnation (uid) of an index is published on. The id is the last token,
// base64url-encoded, so it arrives byte for byte (headers would trim it)
// and the stream can keep only the latest write of each document
// (MaxMsgsPerSubject = 1). The uid fences incarnations: the stream of a
// re-created index binds only its own uid's subjects, so a write meant for
// a deleted incarnation finds no stream and fails.
func IngestSubject(index, uid string, shard int, id string) string {
	return IngestShardPrefix(index, uid, shard) + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// IngestShardPrefix is the part of IngestSubject before the id.
func IngestShardPrefix(index, uid string, shard int) string {
	return "shoal.ingest." + index + "." + uid + "." + strconv.Itoa(shard) + "."
}

// IngestStreamSubjects is the subject filter of an index incarnation's
// stream.
func IngestStreamSubjects(index, uid string) string {
	return "shoal.ingest." + index + "." + uid + ".>"
}

// IngestShardFilter is the subject filter that selects one shard's writes.
func IngestShardFilter(index, uid string, shard int) string {
	return IngestShardPrefix(index, uid, shard) + ">"
}

// IngestID returns the document id a write's subject carries, given the
// shard's prefix (IngestShardPrefix). It fails for a subject of another
// shard or incarnation, or a token that is not base64url.
func IngestID(subject, prefix string) (string, error) {
	tok, ok := strings.CutPrefix(subject, prefix)
	if !ok || tok == "" || strings.Contains(tok, ".") {
		return "", fmt.Errorf("subject %q is not a write under %q", subject, prefix)
	}
	id, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", fmt.Errorf("subject %q: id token: %w", subject, err)
	}
	return string(id), nil
}

// ShardSubject is the subject on which any caught-up copy of a shard answers
// op, in the QueueGroup.
func ShardSubject(index string, shard int, op string) string {
	return "shoal.shard." + index + "." + strconv.Itoa(shard) + "." + op
}

// CopySubject is the subject on which the copy of a shard on one node
// answers op, so a coordinator can address (and fail over between) copies.
func CopySubject(node, index string, shard int, op string) string {
	return "shoal.copy." + node + "." + index + "." + strconv.Itoa(shard) + "." + op
}

// NodeSubject is the subject on which a searcher node answers op for
// several of its shard copies at once (OpSearch: NodeSearchRequest).
func NodeSubject(node, op string) string { return "shoal.node." + node + "." + op }

// Subject patterns, for NATS permissions: what each role may publish and
// subscribe to is stated with these (broker/permissions.go), so that the
// subjects above and the permissions cannot drift apart.

// NodeRequests matches every request to one searcher node's own subjects.
func NodeRequests(node string) string { return "shoal.node." + node + ".>" }

// CopyRequests matches every request to the shard copies on one node.
func CopyRequests(node string) string { return "shoal.copy." + node + ".>" }

// Subject patterns matching one kind of subject for every node, shard or
// index.
const (
	AllNodeRequests  = "shoal.node.>"
	AllCopyRequests  = "shoal.copy.>"
	AllShardRequests = "shoal.shard.>"
	AllIngest        = "shoal.ingest.>"
)

// InboxRoot is the root of the inbox prefixes below: JetStream delivers
// a KV watcher's messages under it (broker/accounts.go).
const InboxRoot = "_shoal.inbox"

// IsInbox reports whether subject is under an inbox prefix: a Shoal
// connection's (InboxRoot) or NATS's default (_INBOX). A searcher answers
// only requests whose reply subject is one, so that a requester cannot
// have a searcher publish its answer onto a subject the searcher may reach
// only in reply (allow_responses), a KV key say.
func IsInbox(subject string) bool {
	return strings.HasPrefix(subject, InboxRoot+".") || strings.HasPrefix(subject, "_INBOX.")
}

// CoordinatorInbox is the inbox prefix of every coordinator connection:
// replies from searchers come back under it. Only coordinators may
// subscribe to it, and searchers may publish there only in reply to a
// request they were sent.
const CoordinatorInbox = InboxRoot + ".coordinator"

// SearcherInbox is the inbox prefix of a searcher node's connection, under
// which its JetStream API replies and consumer messages arrive.
func SearcherInbox(node string) string { return InboxRoot + ".searcher." + node }
