package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// handler serves one route: it returns the answer's body, or an error that
// respond turns into the error envelope. A body is written as JSON with
// status 200 unless it is a withStatus or a rawJSON.
type handler func(c *gin.Context) (any, error)

// withStatus is an answer with a status other than 200.
type withStatus struct {
	status int
	body   any
}

// rawJSON is an answer that is already JSON (a stored document), written
// byte for byte.
type rawJSON []byte

// handle adapts a handler to gin: the one path by which answers and error
// answers are written.
func (s *Server) handle(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := h(c)
		if err != nil {
			s.abort(c, err)
			return
		}
		switch b := body.(type) {
		case withStatus:
			c.JSON(b.status, b.body)
		case rawJSON:
			c.Data(http.StatusOK, "application/json; charset=utf-8", b)
		default:
			c.JSON(http.StatusOK, b)
		}
	}
}

// abort writes the error answer for err and stops the handler chain. An
// internal error is logged; every other kind is the client's to read.
func (s *Server) abort(c *gin.Context, err error) {
	e := toAPIError(err)
	if e.kind == kindInternal {
		s.log.ErrorContext(c.Request.Context(), "request failed", "path", c.Request.URL.Path, "err", err)
	}
	s.metrics.answered(e)
	if e.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(max(time.Second, e.retryAfter).Seconds()))))
	}
	if e.kind == kindUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="shoal"`)
	}
	c.AbortWithStatusJSON(e.kind.status(), e.body())
}
