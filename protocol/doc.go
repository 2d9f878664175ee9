// Package protocol is the wire between Shoal's roles: the NATS subjects and
// stream names (nothing else spells a subject), the request and reply
// message types that searchers, indexers and coordinators exchange, and the
// compact binary codec of search requests and replies.
package protocol
