package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
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

// bleveSearchKeys are the keys of a bleve SearchRequest in JSON that a
// search body may hold (pre_search_data is Shoal's own business).
var bleveSearchKeys = []string{"query", "size", "from", "highlight", "fields", "facets", "explain", "sort",
	"includeLocations", "score", "search_after", "search_before", "knn", "knn_operator", "params"}

// searchExtras are the keys a search body holds beside bleve's.
type searchExtras struct {
	Query        json.RawMessage `json:"query"`
	Timeout      *string         `json:"timeout"`
	AllowPartial *bool           `json:"allow_partial"`
	Profile      *bool           `json:"profile"` // read by searchPOST (profileFlag)
	Size         *int64          `json:"size"`
	From         *int64          `json:"from"`
}

// checkSearchKeys refuses keys that neither bleve's request nor
// searchExtras knows, as Elasticsearch does: a misspelt "szie" must not
// silently give the default.
func checkSearchKeys(raw []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("search body: %w", err)
	}
	known := map[string]bool{}
	for _, k := range bleveSearchKeys {
		known[k] = true
	}
	t := reflect.TypeOf(searchExtras{})
	for i := range t.NumField() {
		known[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	var unknown []string
	for k := range keys {
		if !known[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("search body: unknown key %s", strings.Join(unknown, ", "))
	}
	return nil
}

// ParseSearchBody reads a search body: a bleve SearchRequest in JSON with
// more keys, "timeout" (a duration such as "500ms"), "allow_partial"
// (default true) and "profile" (a boolean the handler reads). Unknown keys, and a negative size or
// from, are refused.
func ParseSearchBody(r io.Reader) (*bleve.SearchRequest, time.Duration, bool, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, false, err
	}
	var extra searchExtras
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, 0, false, fmt.Errorf("search body: %w", err)
	}
	if err := checkSearchKeys(raw); err != nil {
		return nil, 0, false, err
	}
	if (extra.Size != nil && *extra.Size < 0) || (extra.From != nil && *extra.From < 0) {
		return nil, 0, false, errors.New("search body: size and from must not be negative")
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
