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
	Profile      *bool           `json:"profile"`
	MinCoverage  *json.Number    `json:"min_coverage"`
	After        *string         `json:"after"`
	MaxLag       *json.Number    `json:"max_lag"`
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
// Shoal's options as more keys: "timeout" (a duration such as "500ms"),
// "allow_partial" (default true), "min_coverage" (0 to 100), "after" (a
// read-your-writes token), "max_lag" (a number of writes) and "profile"
// (default false). Unknown keys, and a negative size or from, are refused.
func ParseSearchBody(r io.Reader) (*bleve.SearchRequest, SearchOptions, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, SearchOptions{}, err
	}
	var extra searchExtras
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, SearchOptions{}, fmt.Errorf("search body: %w", err)
	}
	if err := checkSearchKeys(raw); err != nil {
		return nil, SearchOptions{}, err
	}
	if (extra.Size != nil && *extra.Size < 0) || (extra.From != nil && *extra.From < 0) {
		return nil, SearchOptions{}, errors.New("search body: size and from must not be negative")
	}
	// Bleve turns a missing query into one that matches nothing.
	if len(extra.Query) == 0 || string(extra.Query) == "null" {
		return nil, SearchOptions{}, errors.New(`search body: "query" is required`)
	}
	var ro rawOptions
	if extra.Timeout != nil {
		ro.timeout = *extra.Timeout
	}
	if extra.AllowPartial != nil {
		ro.allowPartial = strconv.FormatBool(*extra.AllowPartial)
	}
	if extra.MinCoverage != nil {
		ro.minCoverage = extra.MinCoverage.String()
	}
	if extra.MaxLag != nil {
		ro.maxLag = extra.MaxLag.String()
	}
	if extra.After != nil {
		ro.after = []string{*extra.After}
	}
	if extra.Profile != nil {
		ro.profile = strconv.FormatBool(*extra.Profile)
	}
	opts, err := parseOptions(ro)
	if err != nil {
		return nil, SearchOptions{}, err
	}
	var req bleve.SearchRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, SearchOptions{}, fmt.Errorf("search body: %w", err)
	}
	if req.Query == nil {
		return nil, SearchOptions{}, errors.New(`search body: "query" is required`)
	}
	return &req, opts, nil
}
