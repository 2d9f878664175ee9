package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/blevesearch/bleve/v2"
)

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
