package broker

import (
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/shoal-search/shoal/protocol"
)

// Shoal's NATS accounts. The streams and buckets live in an account of
// their own, STORE, that no Shoal process logs into; every identity
// (admin, coordinators, searchers) is a user of the SHOAL account, which
// has no JetStream and reaches STORE's only through imports. The reason is
// that JetStream publishes its answers, and a pull consumer's messages,
// to whatever reply subject the caller names, inside the account that
// holds the streams, where a bucket's stream captures them: NATS checks a
// publish subject against the sender's permissions, never its reply
// subject. Across an import NATS replaces the reply with a one-time
// _R_ subject of STORE and carries the answer back into SHOAL on the
// caller's reply subject, so JetStream never answers onto a subject of
// STORE that the caller chose.
//
// An answer carried back into SHOAL may land on a subject SHOAL itself
// imports ($KV.shoal_nodes.s2, say). It does not go on into STORE: every
// service import below is a wildcard imported under its own name, and
// nats-server forwards an answer matched by such an import under the
// answer's own _R_ subject, where no stream listens; an answer matched by
// the JetStream API import is dropped as a cycle (same export). An import
// of a literal subject, or one renamed with a mapping, would not hold this
// (a literal import forwards the answer to its key; it was tried): do not
// add one. broker/reflect_test.go checks it against the real server.
const (
	storeAccount = "STORE"
	shoalAccount = "SHOAL"
)

// storeServices are the subjects of STORE that SHOAL imports as services:
// the JetStream API (answers may stream: a pull request is answered with
// its batch of messages), the KV buckets' keys, the index streams' ingest
// subjects, the flow-control and acknowledgement replies of consumed
// messages, and the acknowledgements and chunks of a stream's backup and
// restore (admin, with the nats CLI).
var storeServices = []struct {
	subject string
	stream  bool
}{
	{"$JS.API.>", true},
	{"$KV.>", false},
	{protocol.AllIngest, false},
	{"$JS.FC.>", false},
	{"$JS.ACK.>", false},
	{"$JS.SNAPSHOT.>", false},
}

// storeStreams are the subjects of STORE that SHOAL imports as streams:
// the inboxes a push consumer (a KV watcher) delivers to.
var storeStreams = []string{protocol.InboxRoot + ".>", "_INBOX.>"}

// storeClaims is the STORE account: JetStream without limits, and the
// exports SHOAL imports.
func storeClaims(pub string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(pub)
	ac.Name = storeAccount
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit}
	for _, s := range storeServices {
		e := &jwt.Export{Name: s.subject, Subject: jwt.Subject(s.subject), Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton}
		if s.stream {
			e.ResponseType = jwt.ResponseTypeStream
		}
		ac.Exports.Add(e)
	}
	for _, s := range storeStreams {
		ac.Exports.Add(&jwt.Export{Name: s, Subject: jwt.Subject(s), Type: jwt.Stream})
	}
	return ac
}

// shoalClaims is the SHOAL account, whose users are Shoal's identities:
// no JetStream of its own, STORE's through the imports, each under its
// own subject.
func shoalClaims(pub, storePub string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(pub)
	ac.Name = shoalAccount
	for _, s := range storeServices {
		ac.Imports.Add(&jwt.Import{Name: s.subject, Subject: jwt.Subject(s.subject), Account: storePub, Type: jwt.Service})
	}
	for _, s := range storeStreams {
		ac.Imports.Add(&jwt.Import{Name: s, Subject: jwt.Subject(s), Account: storePub, Type: jwt.Stream})
	}
	return ac
}

// accountJWTs signs the STORE and SHOAL accounts with the operator's key.
func accountJWTs(op, store, shoal nkeys.KeyPair) (storeJWT, shoalJWT string, err error) {
	storePub, _ := store.PublicKey()
	shoalPub, _ := shoal.PublicKey()
	if storeJWT, err = storeClaims(storePub).Encode(op); err != nil {
		return "", "", err
	}
	if shoalJWT, err = shoalClaims(shoalPub, storePub).Encode(op); err != nil {
		return "", "", err
	}
	return storeJWT, shoalJWT, nil
}
