package bulkload

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/shoal-search/shoal/client"
)

// Retry backoff after a failed bulk request: doubling from the first to
// the cap, each wait jittered.
const (
	retryFirstWait = 100 * time.Millisecond
	retryMaxWait   = 5 * time.Second
)

// errRetryTimeUp is returned by [backoff.wait] when waiting once more would
// take the retries past their time limit.
var errRetryTimeUp = errors.New("retry time is up")

// backoff paces the attempts of one request: jittered waits doubling from
// retryFirstWait to retryMaxWait, for at most limit after the first failed
// attempt. It is the loader's one retry helper.
type backoff struct {
	limit    time.Duration
	next     time.Duration // the wait before jitter
	deadline time.Time     // set by the first wait
}

func newBackoff(limit time.Duration) *backoff {
	return &backoff{limit: limit, next: retryFirstWait}
}

// wait sleeps before the next attempt. It returns errRetryTimeUp at once
// when the sleep would end past the limit, and ctx's error when ctx ends
// first.
func (b *backoff) wait(ctx context.Context) error {
	now := time.Now()
	if b.deadline.IsZero() {
		b.deadline = now.Add(b.limit)
	}
	d := jitter(b.next)
	if now.Add(d).After(b.deadline) {
		return errRetryTimeUp
	}
	if err := sleep(ctx, d); err != nil {
		return err
	}
	b.next = min(2*b.next, retryMaxWait)
	return nil
}

// jitter returns a duration between half and all of d.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// What is retried. Both decisions rest on types and flags, never on the
// text of an error.

// retryableDoc reports whether the server failed a document for a passing
// reason, so that sending it again may succeed: exactly when the server
// set the document's retryable flag (the indexer sets it when JetStream
// did not store a valid write). Any other failure is about the document's
// content and is final.
func retryableDoc(e client.BulkError) bool { return e.Retryable }

// retryableRequest reports whether a bulk request that failed as a whole
// may succeed if sent again: the server could not be reached or its answer
// not read (a *client.ConnError), or it answered that it is unavailable
// for now (a *client.APIError with status 502, 503 or 504, whatever its
// body). A cancelled or expired context is never retried.
func retryableRequest(err error) bool {
	var ce *client.ConnError
	if errors.As(err, &ce) {
		return true
	}
	var ae *client.APIError
	return errors.As(err, &ae) && errors.Is(ae, client.ErrUnavailable)
}
