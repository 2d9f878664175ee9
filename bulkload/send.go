package bulkload

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/shoal-search/shoal/client"
)

// work sends batches from in until it is closed, delivering outcomes.
func (r *loadRun) work(ctx context.Context, in <-chan *batch, out chan<- outcome) error {
	for {
		var b *batch
		select {
		case <-ctx.Done():
			return ctx.Err()
		case next, ok := <-in:
			if !ok {
				return nil
			}
			b = next
		}
		o := outcome{b: b, rejected: slices.Clone(b.invalid), failed: len(b.invalid)}
		if len(b.lines) > 0 {
			r.sent.Add(int64(len(b.lines)))
			all := make([]int, len(b.lines))
			for i := range all {
				all[i] = i
			}
			if err := r.send(ctx, b, all, &o); err != nil {
				return err
			}
		}
		slices.SortFunc(o.rejected, func(a, b rejected) int { return cmp.Compare(a.line, b.line) })
		out <- o // the collector drains outcomes until they are closed
	}
}

// send delivers the documents idx (indexes into b's documents, in file
// order) and adds the result to o. A request refused as too large is split
// in halves; a single document refused so is recorded as rejected.
// Documents the server flagged as retryable are sent again with backoff,
// for at most MaxRetryTime.
func (r *loadRun) send(ctx context.Context, b *batch, idx []int, o *outcome) error {
	retry := newBackoff(r.opts.MaxRetryTime)
	for {
		res, err := r.bulk(ctx, b.bodyOf(idx))
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
			return r.sendSplit(ctx, b, idx, o, ae)
		}
		if err != nil {
			return fmt.Errorf("bulkload: %s, lines %d-%d: %w",
				r.files[b.file].path, b.lines[idx[0]], b.lines[idx[len(idx)-1]], err)
		}
		again, reason := account(b, idx, res, o)
		if len(again) == 0 {
			return nil
		}
		switch err := retry.wait(ctx); {
		case errors.Is(err, errRetryTimeUp):
			return fmt.Errorf("bulkload: %s: %d documents not stored for %v, giving up (last: %s): %w",
				r.files[b.file].path, len(again), r.opts.MaxRetryTime, reason, client.ErrUnavailable)
		case err != nil:
			return err
		}
		r.retries.Add(1)
		idx = again
	}
}

// sendSplit handles a request the server refused as too large (ae): a
// single document is recorded as rejected, more are sent in two halves.
func (r *loadRun) sendSplit(ctx context.Context, b *batch, idx []int, o *outcome, ae *client.APIError) error {
	if len(idx) == 1 {
		o.failed++
		o.rejected = append(o.rejected, rejected{line: b.lines[idx[0]], id: b.ids[idx[0]],
			err: "document too large for the server: " + ae.Reason})
		return nil
	}
	mid := len(idx) / 2
	if err := r.send(ctx, b, idx[:mid], o); err != nil {
		return err
	}
	return r.send(ctx, b, idx[mid:], o)
}

// account adds the server's answer res to the documents idx of b to o. It
// returns the documents to send again (sorted, in file order) and the
// server's last reason for one of them.
func account(b *batch, idx []int, res *client.BulkResult, o *outcome) (again []int, reason string) {
	o.indexed += res.Indexed
	o.deleted += res.Deleted
	for _, e := range res.Errors {
		k := -1 // index into idx
		if e.Line >= 1 && e.Line <= len(idx) {
			k = e.Line - 1
		} else if e.ID != "" {
			// The server's line number is out of range: find the id.
			k = slices.IndexFunc(idx, func(j int) bool { return b.ids[j] == e.ID })
		}
		if k >= 0 && retryableDoc(e) {
			again = append(again, idx[k])
			reason = e.Error
			continue
		}
		rj := rejected{id: e.ID, err: e.Error}
		if k >= 0 {
			rj.line = b.lines[idx[k]]
			rj.id = cmp.Or(rj.id, b.ids[idx[k]])
		}
		o.failed++
		o.rejected = append(o.rejected, rj)
	}
	// Failures the server counted without detailing them.
	o.failed += max(0, res.Failed-len(res.Errors))
	slices.Sort(again)
	return again, reason
}

// bulk sends one bulk request, retrying with backoff while the failure is
// retryable (see retryableRequest), for at most MaxRetryTime.
func (r *loadRun) bulk(ctx context.Context, body []byte) (*client.BulkResult, error) {
	retry := newBackoff(r.opts.MaxRetryTime)
	for {
		res, err := r.l.client.Bulk(ctx, r.opts.Index, body, r.opts.Refresh)
		if err == nil || ctx.Err() != nil || !retryableRequest(err) {
			return res, err
		}
		switch werr := retry.wait(ctx); {
		case errors.Is(werr, errRetryTimeUp):
			return nil, fmt.Errorf("server unavailable for %v, giving up: %w", r.opts.MaxRetryTime, err)
		case werr != nil:
			return nil, werr
		}
		r.retries.Add(1)
	}
}
