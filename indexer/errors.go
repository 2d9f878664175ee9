package indexer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// FailType is the kind of a document's failure: it decides the status a
// single-document write answers with and whether a client may retry.
type FailType string

// Kinds of failure.
const (
	// FailInvalid: the document itself is wrong (400, never retried).
	FailInvalid FailType = "invalid_document"
	// FailTooLarge: the document is over the broker's payload limit
	// (413, never retried).
	FailTooLarge FailType = "document_too_large"
	// FailIndexGone: the index was deleted while the write was in flight
	// (404, never retried).
	FailIndexGone FailType = "index_not_found"
	// FailIndexReplaced: the index was deleted and created again while the
	// write was in flight; it did not land in the new index (409, never
	// retried).
	FailIndexReplaced FailType = "index_replaced"
	// FailStreamMissing: the index's stream is gone while its definition
	// stays (503; an operator must repair it, see /readyz).
	FailStreamMissing FailType = "stream_missing"
	// FailUnconfirmed: JetStream did not confirm within the write
	// deadline; the document may or may not be stored (503, retry).
	FailUnconfirmed FailType = "unconfirmed"
	// FailUnavailable: JetStream refused or lost the write (503, retry).
	FailUnavailable FailType = "unavailable"
)

// Retryable reports whether sending a document that failed so again may
// succeed.
func (t FailType) Retryable() bool {
	return t == FailUnconfirmed || t == FailUnavailable
}

// WriteError is a write that failed, with its kind.
type WriteError struct {
	Type FailType
	Err  error
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// classify names why a write of def failed: a missing stream means the
// index was deleted (or deleted and created again) while the write was in
// flight, unless the catalog still holds this very incarnation.
func (ix *Indexer) classify(def *meta.IndexDef, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// A write whose stream was deleted under it is never confirmed:
		// that one is gone, not worth sending again. The catalog's own
		// view decides: it costs no round trip, which during a broker
		// outage would wait for nothing.
		if gone := ix.knownGone(def); gone != nil {
			return gone
		}
		if errors.Is(err, context.Canceled) {
			return &WriteError{Type: FailUnconfirmed, Err: fmt.Errorf("not confirmed: %w", err)}
		}
		return &WriteError{Type: FailUnconfirmed, Err: fmt.Errorf("not confirmed within the write timeout (%v): %w", ix.opts.WriteTimeout, err)}
	case errors.Is(err, nats.ErrMaxPayload):
		return &WriteError{Type: FailTooLarge, Err: err}
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrStreamNotFound):
	default:
		return &WriteError{Type: FailUnavailable, Err: fmt.Errorf("not stored: %w", err)}
	}
	if gone := ix.incarnationGone(def); gone != nil {
		return gone
	}
	// The same incarnation: the stream is missing only if JetStream says
	// so; "no responders" during a broker failover passes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, serr := ix.js.Stream(ctx, protocol.StreamName(def.Name)); errors.Is(serr, jetstream.ErrStreamNotFound) {
		return &WriteError{Type: FailStreamMissing, Err: fmt.Errorf("the stream of index %s is missing: %w", def.Name, err)}
	}
	return &WriteError{Type: FailUnavailable, Err: fmt.Errorf("not stored (the stream did not answer): %w", err)}
}

// knownGone is the error of a write to def when the catalog has seen def's
// incarnation deleted or replaced; nil otherwise.
func (ix *Indexer) knownGone(def *meta.IndexDef) error {
	cur, err := ix.cat.Index(def.Name)
	return goneError(def, cur, err)
}

// incarnationGone is knownGone asked of the KV bucket itself, for when the
// catalog's cache may not have seen a delete yet.
func (ix *Indexer) incarnationGone(def *meta.IndexDef) error {
	cur, err := ix.currentDef(def.Name)
	return goneError(def, cur, err)
}

// goneError is the error of a write to def when the index's definition
// now is cur, or could not be read with err: deleted if it is not there,
// replaced if it has another UID, nil if it is still def's incarnation or
// could not be read for another reason.
func goneError(def, cur *meta.IndexDef, err error) error {
	switch {
	case errors.Is(err, catalog.ErrIndexNotFound), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return &WriteError{Type: FailIndexGone, Err: fmt.Errorf("index %s was deleted while the write was in flight", def.Name)}
	case err != nil:
		return nil
	case cur.UID != def.UID:
		return &WriteError{Type: FailIndexReplaced, Err: fmt.Errorf("index %s was deleted and created again while the write was in flight; it was not written to the new index", def.Name)}
	}
	return nil
}

// currentDef reads the index's definition from the KV bucket itself, not
// the catalog's cache, which may not have seen a delete yet.
func (ix *Indexer) currentDef(name string) (*meta.IndexDef, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := ix.cat.Buckets().Indexes.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return meta.DecodeIndexDef(e.Value())
}
