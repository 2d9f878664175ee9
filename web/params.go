package web

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/token"
)

// refreshWait reads ?refresh=: "wait_for" (or "true") waits until the
// writes are searchable; "" and "false" do not. Anything else is an
// invalid_parameter answer.
func refreshWait(c *gin.Context) (bool, error) {
	switch r := c.Query("refresh"); r {
	case "", "false":
		return false, nil
	case "wait_for", "true":
		return true, nil
	default:
		return false, newError(kindInvalidParameter, fmt.Sprintf("refresh must be wait_for or false, not %q", r))
	}
}

// intParam reads the non-negative integer query parameter name, def when
// it is absent.
func intParam(c *gin.Context, name string, def int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, not %q", name, v)
	}
	return n, nil
}

// SearchOptions are Shoal's own options of a search, beside Bleve's
// request: in the query string of a GET, as keys of a POST body.
type SearchOptions struct {
	// Timeout bounds the search (0: the server's default).
	Timeout time.Duration
	// AllowPartial (default true) answers with the shards that answered;
	// false is MinCoverage 100.
	AllowPartial bool
	// MinCoverage (0 to 100) is the least share of the documents, in
	// percent, the answer must cover; below it the answer is a 503.
	MinCoverage float64
	// After is the read-your-writes token: the answer reflects every
	// write it names.
	After token.Token
	// MaxLag, when set, skips copies more than that many writes behind.
	MaxLag *uint64
	// Profile adds the answer's profile: where the time went, and each
	// shard's state.
	Profile bool
}

// rawOptions are the search options as the client spelled them, "" for
// absent.
type rawOptions struct {
	timeout, allowPartial, minCoverage, maxLag, profile string
	after                                               []string
}

// parseOptions checks and decodes the search options; its errors name the
// option and what it must be.
func parseOptions(raw rawOptions) (SearchOptions, error) {
	o := SearchOptions{AllowPartial: true}
	if raw.timeout != "" {
		d, err := time.ParseDuration(raw.timeout)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("timeout must be a positive duration such as 500ms or 2s, not %q", raw.timeout)
		}
		o.Timeout = d
	}
	if raw.allowPartial != "" {
		b, err := strconv.ParseBool(raw.allowPartial)
		if err != nil {
			return o, fmt.Errorf("allow_partial must be true or false, not %q", raw.allowPartial)
		}
		o.AllowPartial = b
	}
	if raw.minCoverage != "" {
		p, err := strconv.ParseFloat(raw.minCoverage, 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return o, fmt.Errorf("min_coverage must be a number from 0 to 100 (a percentage of the documents), not %q", raw.minCoverage)
		}
		o.MinCoverage = p
	}
	if raw.maxLag != "" {
		n, err := strconv.ParseUint(raw.maxLag, 10, 64)
		if err != nil {
			return o, fmt.Errorf("max_lag must be a non-negative whole number of writes, not %q", raw.maxLag)
		}
		o.MaxLag = &n
	}
	if raw.profile != "" {
		b, err := strconv.ParseBool(raw.profile)
		if err != nil {
			return o, fmt.Errorf("profile must be true or false, not %q", raw.profile)
		}
		o.Profile = b
	}
	after, err := parseAfter(raw.after)
	o.After = after
	return o, err
}

// parseAfter decodes read-your-writes tokens and merges them (the highest
// sequence per shard); they must all be of one index.
func parseAfter(values []string) (token.Token, error) {
	var out token.Token
	for _, v := range values {
		t, err := token.Parse(v)
		if err != nil {
			return token.Token{}, fmt.Errorf("after: %w", err)
		}
		if out, err = token.Merge(out, t); err != nil {
			return token.Token{}, fmt.Errorf("after: the tokens are of different indexes: %w", err)
		}
	}
	return out, nil
}

// queryOptions reads the search options of a GET's query string.
func queryOptions(c *gin.Context) (SearchOptions, error) {
	return parseOptions(rawOptions{
		timeout: c.Query("timeout"), allowPartial: c.Query("allow_partial"),
		minCoverage: c.Query("min_coverage"), maxLag: c.Query("max_lag"), profile: c.Query("profile"), after: c.QueryArray("after"),
	})
}

// afterParam reads the ?after= tokens of a write or a get.
func afterParam(c *gin.Context) (token.Token, error) {
	t, err := parseAfter(c.QueryArray("after"))
	if err != nil {
		return t, errorOf(kindInvalidParameter, err)
	}
	return t, nil
}

// docID is the document id of the request's path: its last segment as the
// client escaped it, unescaped as a path segment is (a '+' stays a '+'),
// byte for byte. (gin's own path values are unescaped as query strings, or
// not at all when Go kept no raw path.)
func docID(c *gin.Context) (string, error) {
	p := c.Request.URL.EscapedPath()
	seg := p[strings.LastIndexByte(p, '/')+1:]
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", newError(kindInvalidID, "document id: "+err.Error())
	}
	return id, nil
}

// writeContext is the request's context, bounded by its ?timeout= (a
// positive duration) when given; the indexer's --write-timeout bounds it
// in any case.
func writeContext(c *gin.Context) (context.Context, context.CancelFunc, error) {
	v := c.Query("timeout")
	if v == "" {
		ctx, cancel := context.WithCancel(c.Request.Context())
		return ctx, cancel, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return nil, nil, newError(kindInvalidParameter, fmt.Sprintf("timeout must be a positive duration such as 500ms or 2s, not %q", v))
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d)
	return ctx, cancel, nil
}
