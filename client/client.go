// Package client is a typed Go client for Shoal's HTTP JSON API.
//
// It is what the shoal command-line tools, the benchmarks and the end-to-end
// tests use to talk to a coordinator: index administration, bulk and
// single-document writes, and search. Every method takes a context that
// bounds the whole request. Every non-2xx answer becomes an *APIError;
// failures to reach the server become a *ConnError. IsUnavailable tells the
// two kinds of failure worth retrying from the rest.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody bounds how much of a non-2xx response body is kept.
const maxErrorBody = 1 << 20

// Client talks to one Shoal coordinator. A Client is safe for concurrent use
// by multiple goroutines.
type Client struct {
	raw    string // baseURL as given
	root   string // scheme://host[/prefix] without trailing slash; "" if invalid
	hc     *http.Client
	apiKey string
	agent  string
}

// Option configures a Client built by New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc instead of its
// own http.Client (which has no timeout: bound requests with their
// context).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithAPIKey sends key on every request as "Authorization: Bearer key".
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey = key }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(agent string) Option {
	return func(c *Client) { c.agent = agent }
}

// New returns a Client for the Shoal server at baseURL, for example
// "http://127.0.0.1:8080". A baseURL without a scheme is taken as http. A
// malformed baseURL is reported by the first request, not here.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{raw: baseURL, agent: "shoal-client"}
	raw := strings.TrimSpace(baseURL)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
		c.root = strings.TrimRight(u.String(), "/")
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		// Like http.DefaultClient, but keeping enough idle connections for
		// many requests in flight to one server (the default keeps two).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = defaultMaxIdleConnsPerHost
		c.hc = &http.Client{Transport: tr}
	}
	return c
}

// defaultMaxIdleConnsPerHost sizes the connection pool of a Client built
// without WithHTTPClient.
const defaultMaxIdleConnsPerHost = 64

// CloseIdleConnections closes the idle connections of the Client's
// http.Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// BaseURL returns the server address the Client sends requests to.
func (c *Client) BaseURL() string {
	if c.root == "" {
		return c.raw
	}
	return c.root
}

// IndexSettings is the definition of a new index, sent by CreateIndex.
type IndexSettings struct {
	// Shards is the number of shards, fixed for the index's lifetime; 0
	// leaves the server's default.
	Shards int `json:"shards,omitempty"`
	// Replicas is the number of copies of each shard (1 = a single copy);
	// 0 leaves the server's default.
	Replicas int `json:"replicas,omitempty"`
	// Mapping is an optional Bleve index mapping.
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Facets names term facets the index offers by default (for example to
	// the search page), keyed by facet name.
	Facets map[string]FacetDef `json:"facets,omitempty"`
}

// FacetDef defines a term facet over one field.
type FacetDef struct {
	// Field is the document field the facet counts terms of.
	Field string `json:"field"`
	// Size is how many terms the facet returns.
	Size int `json:"size,omitempty"`
}

// IndexInfo describes an index, as returned by GetIndex and ListIndexes.
type IndexInfo struct {
	// Name is the index name.
	Name string `json:"name"`
	// Shards is the number of shards.
	Shards int `json:"shards"`
	// Replicas is the number of copies of each shard.
	Replicas int `json:"replicas"`
	// Docs is the number of documents, each counted once.
	Docs uint64 `json:"docs"`
	// Created is when the index was created, if the server says.
	Created time.Time `json:"created,omitzero"`
	// Mapping is the index's Bleve mapping, if it has a custom one.
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Facets are the index's default term facets.
	Facets map[string]FacetDef `json:"facets,omitempty"`
	// ShardStats reports each shard copy; GetIndex fills it, ListIndexes
	// may not.
	ShardStats []ShardStat `json:"shard_stats,omitempty"`
}

// ShardStat is the state of one shard copy on one searcher node.
type ShardStat struct {
	// Shard is the shard number, from 0.
	Shard int `json:"shard"`
	// Node is the searcher node hosting this copy.
	Node string `json:"node"`
	// Docs is the number of documents in the shard.
	Docs uint64 `json:"docs"`
	// AppliedSeq is the last write-stream sequence applied to the shard.
	AppliedSeq uint64 `json:"applied_seq"`
	// Pending is the number of stored writes not applied yet.
	Pending uint64 `json:"pending"`
	// CaughtUp reports whether the shard has applied every stored write.
	CaughtUp bool `json:"caught_up"`
	// Live is false when the copy did not answer; its figures are then
	// from its last heartbeat.
	Live bool `json:"live"`
}

// CreateIndex creates index name with the given settings. If the index
// already exists the error matches ErrExists (errors.Is) and is an *APIError
// with Status 409.
func (c *Client) CreateIndex(ctx context.Context, name string, def IndexSettings) error {
	body, err := json.Marshal(def)
	if err != nil {
		return fmt.Errorf("client: encode settings of index %q: %w", name, err)
	}
	return c.do(ctx, http.MethodPut, indexPath(name), nil, "application/json", body, nil)
}

// GetIndex returns the description of index name. An unknown index gives
// an error matching ErrNotFound.
func (c *Client) GetIndex(ctx context.Context, name string) (*IndexInfo, error) {
	var info IndexInfo
	if err := c.do(ctx, http.MethodGet, indexPath(name), nil, "", nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// ListIndexes returns every index the server knows.
func (c *Client) ListIndexes(ctx context.Context) ([]IndexInfo, error) {
	var out struct {
		Indexes []IndexInfo `json:"indexes"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/indexes", nil, "", nil, &out); err != nil {
		return nil, err
	}
	return out.Indexes, nil
}

// DeleteIndex deletes index name and all its documents.
func (c *Client) DeleteIndex(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, indexPath(name), nil, "", nil, nil)
}

// BulkResult is the server's account of one bulk request.
type BulkResult struct {
	// Indexed is the number of documents written.
	Indexed int `json:"indexed"`
	// Deleted is the number of delete lines applied.
	Deleted int `json:"deleted"`
	// Failed is the number of lines rejected.
	Failed int `json:"failed"`
	// Errors details the rejected lines.
	Errors []BulkError `json:"errors,omitempty"`
	// Refreshed is set when the request asked to wait until its writes
	// are searchable: true if every shard confirmed.
	Refreshed *bool `json:"refreshed,omitempty"`
	// Token is the read-your-writes token of the request's writes: a
	// search with SearchRequest.After set to it sees them.
	Token string `json:"token,omitempty"`
}

// BulkError is one line of a bulk body that the server rejected.
type BulkError struct {
	// Line is the 1-based line number within the request body.
	Line int `json:"line"`
	// ID is the document id, when the line had one.
	ID string `json:"id,omitempty"`
	// Error is the server's reason.
	Error string `json:"error"`
	// Retryable is set by the server when the line failed for a passing
	// reason (the write could not be stored) rather than for its content.
	Retryable bool `json:"retryable,omitempty"`
}

// Bulk sends ndjson, one JSON document per line (a line
// {"id":"x","_delete":true} deletes), to the bulk endpoint of index. A
// malformed line fails alone and is reported in the result, not as an
// error. With refreshWait the server answers only once every write of the
// request is searchable.
func (c *Client) Bulk(ctx context.Context, index string, ndjson []byte, refreshWait bool) (*BulkResult, error) {
	var res BulkResult
	err := c.do(ctx, http.MethodPost, indexPath(index)+"/bulk", refreshQuery(refreshWait),
		"application/x-ndjson", ndjson, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// WriteResult is the server's answer to a single-document write.
type WriteResult struct {
	// ID is the document id.
	ID string `json:"id"`
	// Result is "indexed" or "deleted".
	Result string `json:"result"`
	// Token is the write's read-your-writes token: a search with
	// SearchRequest.After set to it sees the write.
	Token string `json:"token"`
	// Refreshed is set when the request waited until the write was
	// searchable: true if every shard confirmed.
	Refreshed *bool `json:"refreshed,omitempty"`
}

// PutDoc stores doc under id in index, replacing any document with that
// id. doc may be a json.RawMessage or []byte holding a JSON object, or any
// value encoding/json can marshal to one. With refreshWait the server
// answers only once the document is searchable.
func (c *Client) PutDoc(ctx context.Context, index, id string, doc any, refreshWait bool) (*WriteResult, error) {
	var body []byte
	switch d := doc.(type) {
	case json.RawMessage:
		body = d
	case []byte:
		body = d
	default:
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("client: encode document %q: %w", id, err)
		}
		body = b
	}
	var res WriteResult
	if err := c.do(ctx, http.MethodPut, docPath(index, id), refreshQuery(refreshWait), "application/json", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// GetDoc returns the stored document id of index. A missing document or
// index gives an error matching ErrNotFound.
func (c *Client) GetDoc(ctx context.Context, index, id string) (json.RawMessage, error) {
	var doc json.RawMessage
	if err := c.do(ctx, http.MethodGet, docPath(index, id), nil, "", nil, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// DeleteDoc deletes document id of index. With refreshWait the server
// answers only once the deletion is visible to searches.
func (c *Client) DeleteDoc(ctx context.Context, index, id string, refreshWait bool) (*WriteResult, error) {
	var res WriteResult
	if err := c.do(ctx, http.MethodDelete, docPath(index, id), refreshQuery(refreshWait), "", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Search runs req against index (POST /v1/indexes/{index}/search).
func (c *Client) Search(ctx context.Context, index string, req *SearchRequest) (*SearchResponse, error) {
	if req == nil {
		req = &SearchRequest{}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: encode search request: %w", err)
	}
	return c.SearchJSON(ctx, index, body)
}

// SearchJSON runs a search whose body is already encoded: Bleve's
// SearchRequest JSON plus Shoal's "timeout" and "allow_partial".
func (c *Client) SearchJSON(ctx context.Context, index string, body json.RawMessage) (*SearchResponse, error) {
	return c.search(ctx, http.MethodPost, index, nil, body)
}

// SearchQuery runs a query in Bleve's query-string syntax (GET
// /v1/indexes/{index}/search?q=…). size and from are sent when positive;
// otherwise the server defaults apply.
func (c *Client) SearchQuery(ctx context.Context, index, q string, size, from int) (*SearchResponse, error) {
	v := url.Values{"q": {q}}
	if size > 0 {
		v.Set("size", strconv.Itoa(size))
	}
	if from > 0 {
		v.Set("from", strconv.Itoa(from))
	}
	return c.search(ctx, http.MethodGet, index, v, nil)
}

func (c *Client) search(ctx context.Context, method, index string, q url.Values, body []byte) (*SearchResponse, error) {
	var raw json.RawMessage
	ctype := ""
	if body != nil {
		ctype = "application/json"
	}
	if err := c.do(ctx, method, indexPath(index)+"/search", q, ctype, body, &raw); err != nil {
		return nil, err
	}
	var res SearchResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("client: decode search response: %w", err)
	}
	res.Raw = raw
	return &res, nil
}

func indexPath(name string) string {
	return "/v1/indexes/" + url.PathEscape(name)
}

func docPath(index, id string) string {
	return indexPath(index) + "/docs/" + url.PathEscape(id)
}

func refreshQuery(wait bool) url.Values {
	if !wait {
		return nil
	}
	return url.Values{"refresh": {"wait_for"}}
}

// do sends one request and decodes a 2xx JSON answer into out (when out is
// not nil). Non-2xx answers become *APIError, transport failures *ConnError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, out any) error {
	if c.root == "" {
		return fmt.Errorf("client: invalid server URL %q", c.raw)
	}
	target := c.root + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, target, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, method, target, err)
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if rerr != nil && ctx.Err() != nil {
			return fmt.Errorf("client: %s %s: %w", method, target, ctx.Err())
		}
		return newAPIError(method, target, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return c.transportError(ctx, method, target, err)
		}
		if !json.Valid(data) {
			return fmt.Errorf("client: %s %s: response is not JSON: %.200q", method, target, data)
		}
		*raw = data
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if isTransport(err) {
			return c.transportError(ctx, method, target, err)
		}
		return fmt.Errorf("client: %s %s: decode response: %w", method, target, err)
	}
	return nil
}

// transportError classifies an error from sending a request or reading its
// answer: the caller's context ending is reported as such; anything else is
// a *ConnError.
func (c *Client) transportError(ctx context.Context, method, target string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("client: %s %s: %w", method, target, cerr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &ConnError{Method: method, URL: target, Err: err}
}

// isTransport reports whether a decoding error is really a broken
// connection rather than malformed JSON.
func isTransport(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne)
}
