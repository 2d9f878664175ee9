package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/blevesearch/bleve/v2"
)

// decodeStrict decodes a JSON body into v, rejecting unknown fields and
// trailing data; an empty body is accepted when allowEmpty. Numbers keep
// their exact digits. The error is an answer: body_too_large or
// invalid_body.
func decodeStrict(body io.Reader, v any, allowEmpty bool) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	dec.UseNumber() // a document's numbers keep their exact digits
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil || (allowEmpty && errors.Is(err, io.EOF)) {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorOf(kindBodyTooLarge, err)
	}
	return &apiError{kind: kindInvalidBody, reason: "request body: " + err.Error(), cause: err}
}

// bodyError is the answer for a body that could not be read: a body over
// the limit is left to the error table, anything else is invalid_body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return errorOf(kindInvalidBody, err)
}

// ParseSearchBody reads a search body: a bleve SearchRequest in JSON with
// two more keys, "timeout" (a duration such as "500ms") and
// "allow_partial" (default true).
func ParseSearchBody(r io.Reader) (*bleve.SearchRequest, time.Duration, bool, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, false, err
	}
	var extra struct {
		Query        json.RawMessage `json:"query"`
		Timeout      *string         `json:"timeout"`
		AllowPartial *bool           `json:"allow_partial"`
	}
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, 0, false, fmt.Errorf("search body: %w", err)
	}
	// Bleve turns a missing query into one that matches nothing.
	if len(extra.Query) == 0 || string(extra.Query) == "null" {
		return nil, 0, false, errors.New(`search body: "query" is required`)
	}
	var timeout string
	if extra.Timeout != nil {
		timeout = *extra.Timeout
	}
	allow := "true"
	if extra.AllowPartial != nil && !*extra.AllowPartial {
		allow = "false"
	}
	d, allowPartial, err := searchOptions(timeout, allow)
	if err != nil {
		return nil, 0, false, err
	}
	var req bleve.SearchRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, 0, false, fmt.Errorf("search body: %w", err)
	}
	if req.Query == nil {
		return nil, 0, false, errors.New(`search body: "query" is required`)
	}
	return &req, d, allowPartial, nil
}
