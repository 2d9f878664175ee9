package web

import (
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/indexer"
)

// retryWrites is the Retry-After of a write answer whose documents were not
// confirmed.
const retryWrites = time.Second

// failKinds maps a document's failure to the error kind of the answer that
// reports it.
var failKinds = map[indexer.FailType]errorKind{
	indexer.FailInvalid:       kindInvalidBody,
	indexer.FailTooLarge:      kindDocumentTooLarge,
	indexer.FailIndexGone:     kindIndexNotFound,
	indexer.FailIndexReplaced: kindIndexReplaced,
	indexer.FailStreamMissing: kindWriteFailed,
	indexer.FailUnconfirmed:   kindWriteUnconfirmed,
	indexer.FailUnavailable:   kindWriteFailed,
}

// docFailure is the error answer for one document that was not written.
func docFailure(e indexer.DocError) *apiError {
	kind, ok := failKinds[e.Type]
	if !ok {
		kind = kindWriteFailed
	}
	ae := newError(kind, e.Err)
	ae.extra = gin.H{"retryable": e.Retryable}
	if e.Retryable {
		ae.retryAfter = retryWrites
	}
	return ae
}

// bulkFailure decides whether a bulk answer is an error: documents that
// may be retried (not confirmed in time, JetStream unavailable) make it a
// 503 with Retry-After; documents lost to a deleted or re-created index
// make it a 404 or 409. The answer still carries the whole account, so the
// client knows which lines to send again. Otherwise (nil) it is a 200 whose
// errors are lines that were wrong.
func bulkFailure(res *indexer.Result) *apiError {
	var worst *indexer.DocError
	for i := range res.Errors {
		e := &res.Errors[i]
		switch {
		case e.Retryable:
			worst = e
		case worst == nil && (e.Type == indexer.FailIndexGone || e.Type == indexer.FailIndexReplaced):
			worst = e
		}
		if worst != nil && worst.Retryable {
			break
		}
	}
	if worst == nil {
		return nil
	}
	ae := docFailure(*worst)
	ae.reason = fmt.Sprintf("line %d: %s", worst.Line, worst.Err)
	ae.extra = gin.H{"indexed": res.Indexed, "deleted": res.Deleted, "failed": res.Failed, "errors": res.Errors,
		"index_uid": res.IndexUID, "token": res.Token}
	return ae
}
