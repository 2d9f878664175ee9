package broker

import (
	"fmt"

	"github.com/nats-io/jwt/v2"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// Role is what a NATS identity does in Shoal; it decides the identity's
// permissions (Permissions) and its inbox prefix.
type Role string

// The roles Shoal issues credentials for.
const (
	// RoleAdmin may do anything in the Shoal account: the operator's
	// identity for the nats CLI, backups and repairs. No Shoal process
	// needs it.
	RoleAdmin Role = "admin"
	// RoleCoordinator is every coordinator: it sends queries and writes,
	// and keeps the index definitions and placement.
	RoleCoordinator Role = "coordinator"
	// RoleSearcher is one searcher node; each node has its own identity,
	// bound to its node name.
	RoleSearcher Role = "searcher"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleCoordinator, RoleSearcher:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use admin, coordinator or searcher", s)
}

// The JetStream API and KV subjects below are NATS's own (nats-server's
// $JS.API and the $KV.<bucket>.<key> subjects of a KV bucket); Shoal's
// subjects come from protocol.
const (
	jsAPI = "$JS.API."
	// jsFlowControl is where a push consumer's client answers the
	// server's flow-control messages (the catalog's and a node's KV
	// watchers are ordered push consumers).
	jsFlowControl = "$JS.FC.>"
	// jsAck is where consumed messages are acknowledged. Every message a
	// searcher consumes carries such a reply subject; allowing them
	// outright spares the broker tracking each one as a pending response
	// (allow_responses). Shoal's consumers are all ordered, without
	// acknowledgements, so an ack changes nothing.
	jsAck = "$JS.ACK.>"
)

// kvStream is the stream behind a KV bucket.
func kvStream(bucket string) string { return "KV_" + bucket }

// kvKeys matches every key of a bucket; kvKey is one key.
func kvKeys(bucket string) string     { return "$KV." + bucket + ".>" }
func kvKey(bucket, key string) string { return "$KV." + bucket + "." + key }

// metaBuckets are the KV buckets holding the cluster's metadata and the
// API keys.
var metaBuckets = []string{meta.BucketIndexes, meta.BucketPlacement, meta.BucketNodes, meta.BucketKeys}

// Permissions returns what an identity of role may publish and subscribe
// to; node names the searcher (ignored for other roles). The server
// enforces them, so a message from the wrong identity is refused by the
// broker, not merely ignored by its receiver:
//
//   - a searcher subscribes only to its own node's and copies' request
//     subjects, to the shard queue groups (as a member, never as an
//     eavesdropper) and to its own inbox; it publishes only replies to
//     requests it was sent (allow_responses), its own heartbeat key and
//     the JetStream API calls that read the metadata and consume index
//     streams;
//   - a coordinator publishes requests, writes, the index and placement
//     metadata and the API keys (hashed), and receives on an inbox prefix
//     (protocol.CoordinatorInbox)
//     nobody else may subscribe to, and nobody else may publish to except
//     in reply to its requests; it may not write heartbeats, nor delete,
//     purge or reconfigure the metadata buckets;
//   - admin may do anything.
func Permissions(role Role, node string) (jwt.Permissions, error) {
	switch role {
	case RoleAdmin:
		return jwt.Permissions{}, nil
	case RoleCoordinator:
		return coordinatorPermissions(), nil
	case RoleSearcher:
		if err := meta.ValidNodeName(node); err != nil {
			return jwt.Permissions{}, err
		}
		return searcherPermissions(node), nil
	}
	return jwt.Permissions{}, fmt.Errorf("unknown role %q", role)
}

func coordinatorPermissions() jwt.Permissions {
	var p jwt.Permissions
	p.Pub.Allow.Add(
		protocol.AllNodeRequests, protocol.AllCopyRequests, protocol.AllShardRequests,
		protocol.AllIngest,
		kvKeys(meta.BucketIndexes), kvKeys(meta.BucketPlacement), kvKeys(meta.BucketKeys),
		jsAPI+">", jsFlowControl,
	)
	for _, b := range metaBuckets {
		s := kvStream(b)
		p.Pub.Deny.Add(jsAPI+"STREAM.DELETE."+s, jsAPI+"STREAM.PURGE."+s,
			jsAPI+"STREAM.UPDATE."+s, jsAPI+"STREAM.MSG.DELETE."+s)
	}
	// Cluster-wide JetStream operations (peer removal, leader moves) are
	// for admin.
	p.Pub.Deny.Add(jsAPI+"META.>", jsAPI+"SERVER.>", jsAPI+"ACCOUNT.>")
	p.Sub.Allow.Add(protocol.CoordinatorInbox + ".>")
	return p
}

func searcherPermissions(node string) jwt.Permissions {
	var p jwt.Permissions
	p.Pub.Allow.Add(
		kvKey(meta.BucketNodes, node),
		jsAPI+"INFO",
		// Opening buckets and index streams.
		jsAPI+"STREAM.INFO.*",
		// Reading index definitions.
		jsAPI+"DIRECT.GET."+kvStream(meta.BucketIndexes)+".>",
		jsAPI+"STREAM.MSG.GET."+kvStream(meta.BucketIndexes),
		// Watching placement.
		jsAPI+"CONSUMER.CREATE."+kvStream(meta.BucketPlacement)+".>",
		// Ordered consumers of one shard's writes: the filter subject is
		// part of the API subject, so only ingest subjects can be read.
		jsAPI+"CONSUMER.CREATE.*.*."+protocol.AllIngest,
		jsAPI+"CONSUMER.INFO.*.*",
		jsAPI+"CONSUMER.MSG.NEXT.*.*",
		// Removing its own consumers: those of index streams (an ordered
		// consumer deletes its old self when it resets) and its placement
		// watcher, which nats.go deletes, waiting for the answer, when
		// the watch stops (Node.Close). Refused, that delete held every
		// stopping node for the JetStream API's 5 s timeout, its
		// heartbeat already stopped, so a restart ate 5 s of the
		// coordinator's heal-after grace. Consumer names are random and a
		// searcher may not list consumers, so it cannot name another's.
		jsAPI+"CONSUMER.DELETE.*.*",
		jsFlowControl, jsAck,
	)
	// A searcher makes no consumer on the buckets of definitions,
	// heartbeats and keys: the consumers there are the coordinators'.
	p.Pub.Deny.Add(
		jsAPI+"CONSUMER.DELETE."+kvStream(meta.BucketIndexes)+".*",
		jsAPI+"CONSUMER.DELETE."+kvStream(meta.BucketNodes)+".*",
		jsAPI+"CONSUMER.DELETE."+kvStream(meta.BucketKeys)+".*",
	)
	// Replies to the requests it was sent, one each: the requester's
	// inbox is otherwise closed to it.
	p.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
	p.Sub.Allow.Add(
		protocol.NodeRequests(node),
		protocol.CopyRequests(node),
		protocol.AllShardRequests+" "+protocol.QueueGroup,
		protocol.SearcherInbox(node)+".>",
	)
	return p
}

// inboxPrefix is the inbox prefix a connection of role uses ("" for the
// NATS default).
func inboxPrefix(role Role, node string) string {
	switch role {
	case RoleCoordinator:
		return protocol.CoordinatorInbox
	case RoleSearcher:
		return protocol.SearcherInbox(node)
	}
	return ""
}
