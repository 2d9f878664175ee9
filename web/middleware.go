package web

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// startKey is where stamp keeps the time a request arrived.
const startKey = "shoal.start"

// stamp notes when the request arrived: a search's timeout runs from then,
// so that waiting for a slot and reading the body count against it.
func stamp(c *gin.Context) {
	c.Set(startKey, time.Now())
}

// startOf is when c's request arrived.
func startOf(c *gin.Context) time.Time {
	if t, ok := c.Get(startKey); ok {
		return t.(time.Time)
	}
	return time.Now()
}

// limitBody bounds the request body to n bytes; reading past it fails
// with an *http.MaxBytesError. Every route has Options.MaxBodyBytes, and
// searches the smaller Options.MaxSearchBody.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// contentSecurityPolicy lets the page load its own script, style and
// data from this origin only, and nothing frame it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secureHeaders sets the security headers of every answer: the content
// security policy, no MIME sniffing, no framing, no referrer, and HSTS
// over TLS.
func secureHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// Media types of request bodies.
var (
	jsonTypes   = []string{"application/json"}
	ndjsonTypes = []string{"application/x-ndjson", "application/ndjson", "application/json"}
)

// bodyType refuses a request that has a body of another media type than
// types. A browser sends a cross-origin request with a JSON content type
// only after a CORS preflight, which Shoal never grants, so a page on
// another site cannot write through a visitor's browser (CSRF).
func (s *Server) bodyType(types []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength == 0 {
			return
		}
		ct := c.GetHeader("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		for _, t := range types {
			if err == nil && mt == t {
				return
			}
		}
		s.abort(c, newError(kindUnsupportedType, fmt.Sprintf("the body must be sent with Content-Type %s, not %q",
			strings.Join(types, " or "), ct)))
	}
}
