package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// limitBody bounds every request body to Options.MaxBodyBytes; reading
// past it fails with an *http.MaxBytesError.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes)
	}
	c.Next()
}

// auth requires the API key, when one is set, on routes that write or
// administer.
func (s *Server) auth(c *gin.Context) {
	if s.opts.APIKey == "" {
		return
	}
	if c.GetHeader("Authorization") != "Bearer "+s.opts.APIKey {
		s.abort(c, newError(kindUnauthorized, "this request needs the API key: Authorization: Bearer KEY"))
	}
}
