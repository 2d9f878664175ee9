package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors an *APIError matches with errors.Is, by HTTP status.
var (
	// ErrNotFound matches a 404 answer: unknown index or document.
	ErrNotFound = errors.New("not found")
	// ErrExists matches a 409 answer, e.g. creating an index that exists.
	ErrExists = errors.New("already exists")
	// ErrUnavailable matches a 502, 503 or 504 answer.
	ErrUnavailable = errors.New("server unavailable")
)

// APIError is a non-2xx answer from the server. The server reports errors as
// {"error":{"type":…,"reason":…}}; when the body is not in that form, Type
// is empty and Reason holds the start of the body.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Type is the server's error type, e.g. "index_not_found".
	Type string
	// Reason is the server's human-readable explanation.
	Reason string
	// Body is the raw response body (at most 1 MiB). For a search refused
	// with allow_partial=false it carries the "shards" account.
	Body []byte
	// Method and URL identify the request.
	Method, URL string
}

// Error describes the failure in one line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Type != "" {
		b.WriteString(": ")
		b.WriteString(e.Type)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Is lets errors.Is match an APIError against ErrNotFound, ErrExists and
// ErrUnavailable according to its status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrExists:
		return e.Status == http.StatusConflict
	case ErrUnavailable:
		return isUnavailableStatus(e.Status)
	}
	return false
}

func newAPIError(method, url string, status int, body []byte) *APIError {
	e := &APIError{Status: status, Body: body, Method: method, URL: url}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var detail struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		var msg string
		switch {
		case json.Unmarshal(env.Error, &detail) == nil:
			e.Type, e.Reason = detail.Type, detail.Reason
			return e
		case json.Unmarshal(env.Error, &msg) == nil:
			// {"error":"text"}, the shape some proxies and frameworks use.
			e.Reason = msg
			return e
		}
	}
	e.Reason = strings.TrimSpace(string(body))
	if len(e.Reason) > 200 {
		e.Reason = e.Reason[:200] + "…"
	}
	return e
}

// ConnError is a failure to reach the server or to read its answer:
// connection refused or reset, DNS failure, a timeout of the http.Client.
// It is not used when the caller's context ended; that error is returned
// wrapped as it is.
type ConnError struct {
	// Method and URL identify the request.
	Method, URL string
	// Err is the underlying network error.
	Err error
}

// Error describes the failure in one line.
func (e *ConnError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

// Unwrap returns the underlying network error.
func (e *ConnError) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrUnavailable) hold for connection failures too.
func (e *ConnError) Is(target error) bool { return target == ErrUnavailable }

// IsUnavailable reports whether err means the server could not be reached
// or answered 502, 503 or 504: a failure that may pass, so the request is
// worth retrying. It is false for a cancelled or expired context.
// It is the same as errors.Is(err, ErrUnavailable), so errors of callers
// that wrap ErrUnavailable (for example a loader that gave up retrying)
// count too.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func isUnavailableStatus(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
