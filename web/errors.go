package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/rewrite"
)

// errorKind is the "type" of an error answer. Each kind has one HTTP
// status, given by status; the strings are part of the wire contract.
type errorKind string

// The kinds of error the API answers with.
const (
	kindNotFound          errorKind = "not_found"
	kindMethodNotAllowed  errorKind = "method_not_allowed"
	kindUnauthorized      errorKind = "unauthorized"
	kindForbidden         errorKind = "forbidden"
	kindUnsupportedType   errorKind = "unsupported_media_type"
	kindRateLimited       errorKind = "rate_limited"
	kindOverloaded        errorKind = "overloaded"
	kindLimitExceeded     errorKind = "limit_exceeded"
	kindInvalidKey        errorKind = "invalid_key"
	kindKeyNotFound       errorKind = "key_not_found"
	kindClientClosed      errorKind = "client_closed_request"
	kindBodyTooLarge      errorKind = "body_too_large"
	kindInvalidBody       errorKind = "invalid_body"
	kindInvalidParameter  errorKind = "invalid_parameter"
	kindInvalidIndexName  errorKind = "invalid_index_name"
	kindInvalidSettings   errorKind = "invalid_settings"
	kindInvalidMapping    errorKind = "invalid_mapping"
	kindInvalidID         errorKind = "invalid_id"
	kindInvalidRequest    errorKind = "invalid_request"
	kindQueryParseError   errorKind = "query_parse_error"
	kindSearchError       errorKind = "search_error"
	kindIndexNotFound     errorKind = "index_not_found"
	kindIndexExists       errorKind = "index_exists"
	kindDocumentNotFound  errorKind = "document_not_found"
	kindWriteFailed       errorKind = "write_failed"
	kindWriteUnconfirmed  errorKind = "write_unconfirmed"
	kindDocumentTooLarge  errorKind = "document_too_large"
	kindIndexReplaced     errorKind = "index_replaced"
	kindShardsUnavailable errorKind = "shards_unavailable"
	kindTimeout           errorKind = "timeout"
	kindInternal          errorKind = "internal_error"
)

// status is the one table from error kind to HTTP status. A kind it does
// not list can only come from a coordinator.RequestError naming a new kind
// of rejected request, so it is a 400 like the listed ones.
func (k errorKind) status() int {
	switch k {
	case kindNotFound, kindIndexNotFound, kindDocumentNotFound, kindKeyNotFound:
		return http.StatusNotFound
	case kindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case kindUnauthorized:
		return http.StatusUnauthorized
	case kindForbidden:
		return http.StatusForbidden
	case kindUnsupportedType:
		return http.StatusUnsupportedMediaType
	case kindRateLimited, kindOverloaded:
		return http.StatusTooManyRequests
	case kindClientClosed:
		return statusClientClosed
	case kindBodyTooLarge, kindDocumentTooLarge:
		return http.StatusRequestEntityTooLarge
	case kindIndexExists, kindIndexReplaced:
		return http.StatusConflict
	case kindWriteFailed, kindWriteUnconfirmed, kindShardsUnavailable:
		return http.StatusServiceUnavailable
	case kindTimeout:
		return http.StatusGatewayTimeout
	case kindInternal:
		return http.StatusInternalServerError
	case kindInvalidBody, kindInvalidParameter, kindInvalidIndexName, kindInvalidSettings,
		kindInvalidMapping, kindInvalidID, kindInvalidRequest, kindQueryParseError, kindSearchError,
		kindLimitExceeded, kindInvalidKey:
		return http.StatusBadRequest
	default:
		return http.StatusBadRequest
	}
}

// statusClientClosed is the status of a request whose client went away
// before its answer (nginx's 499): nobody reads it, but logs and metrics
// tell it from a failure.
const statusClientClosed = 499

// apiError is an error answer: its kind, the reason shown to the client,
// and any fields the answer carries beside "error" (the shard account of a
// refused partial answer).
type apiError struct {
	kind   errorKind
	reason string
	extra  gin.H
	// cause is the error the answer stands for, if any.
	cause error
	// retryAfter, when positive, is sent as the Retry-After header.
	retryAfter time.Duration
	// limit names the limit that refused the request, if one did.
	limit string
}

func (e *apiError) Error() string { return e.reason }
func (e *apiError) Unwrap() error { return e.cause }

// newError is an error answer of kind with reason.
func newError(kind errorKind, reason string) *apiError {
	return &apiError{kind: kind, reason: reason}
}

// errorOf is an error answer of kind whose reason is err's message.
func errorOf(kind errorKind, err error) *apiError {
	return &apiError{kind: kind, reason: err.Error(), cause: err}
}

// body is the JSON answer: {"error":{"type","reason"}} plus the extra
// fields. Maps keep the keys in sorted order, as the contract has them.
func (e *apiError) body() gin.H {
	out := gin.H{"error": gin.H{"type": string(e.kind), "reason": e.reason}}
	for k, v := range e.extra {
		out[k] = v
	}
	return out
}

// toAPIError maps any error to its answer. It is the one place where the
// typed errors of the layers below become error kinds; an error it does
// not know is an internal error.
func toAPIError(err error) *apiError {
	var (
		ae      *apiError
		mbe     *http.MaxBytesError
		limit   *rewrite.LimitError
		reqErr  *coordinator.RequestError
		unavail *coordinator.UnavailableError
		invalid *meta.InvalidError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &apiError{kind: kindBodyTooLarge, reason: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), cause: err, limit: LimitBody}
	case errors.As(err, &limit):
		return &apiError{kind: kindLimitExceeded, reason: limit.Error(), cause: err, limit: limit.Limit, extra: gin.H{"limit": limit.Limit, "max": limit.Max}}
	case errors.Is(err, meta.ErrInvalidKey):
		return errorOf(kindInvalidKey, err)
	case errors.Is(err, apikeys.ErrKeyNotFound):
		return errorOf(kindKeyNotFound, err)
	case errors.Is(err, catalog.ErrIndexNotFound):
		return errorOf(kindIndexNotFound, err)
	case errors.Is(err, catalog.ErrIndexExists):
		return errorOf(kindIndexExists, err)
	case errors.Is(err, coordinator.ErrDocNotFound):
		return errorOf(kindDocumentNotFound, err)
	case errors.As(err, &reqErr):
		return &apiError{kind: errorKind(reqErr.Type), reason: reqErr.Error(), cause: err}
	case errors.As(err, &unavail):
		extra := gin.H{"shards": unavail.Shards, "timed_out": unavail.TimedOut}
		if unavail.Coverage != (coordinator.Coverage{}) { // a search's, not a get's
			extra["coverage"] = unavail.Coverage
		}
		return &apiError{kind: kindShardsUnavailable, reason: unavail.Error(), cause: err, extra: extra}
	case errors.As(err, &invalid):
		kind := kindInvalidSettings
		if invalid.Kind == "mapping" {
			kind = kindInvalidMapping
		}
		return &apiError{kind: kind, reason: invalid.Error(), cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return errorOf(kindTimeout, err)
	case errors.Is(err, context.Canceled):
		return errorOf(kindClientClosed, err)
	default:
		return errorOf(kindInternal, err)
	}
}
