package web

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
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

// searchOptions parses a search's timeout (a positive duration, "" for
// none) and allow_partial (a boolean, "" for true).
func searchOptions(timeout, allowPartial string) (time.Duration, bool, error) {
	var d time.Duration
	if timeout != "" {
		var err error
		d, err = time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return 0, false, fmt.Errorf("timeout must be a positive duration such as 500ms or 2s, not %q", timeout)
		}
	}
	allow := true
	if allowPartial != "" {
		b, err := strconv.ParseBool(allowPartial)
		if err != nil {
			return 0, false, fmt.Errorf("allow_partial must be true or false, not %q", allowPartial)
		}
		allow = b
	}
	return d, allow, nil
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
