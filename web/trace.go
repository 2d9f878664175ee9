package web

import (
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/tracing"
)

// HeaderRequestID is the answer header that carries the request's id: its
// trace id, the one its log lines and spans carry.
const HeaderRequestID = "X-Request-Id"

// trace makes each request one trace: it honours an incoming traceparent,
// starts the request's server span, gives the request an id (the trace id,
// made here when the request brought none) in X-Request-Id, and writes the
// access log line if there is one.
func (s *Server) trace(c *gin.Context) {
	start := time.Now()
	ctx := tracing.ExtractHTTP(c.Request.Context(), c.Request.Header)
	ctx, span := s.tracer.Start(ctx, c.Request.Method+" "+routeOf(c), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("url.path", c.Request.URL.Path)))
	defer span.End()
	ctx = tracing.Ensure(ctx)
	c.Request = c.Request.WithContext(ctx)
	c.Header(HeaderRequestID, tracing.RequestID(ctx))
	c.Next()
	status := c.Writer.Status()
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	if s.opts.AccessLog != nil {
		s.opts.AccessLog.InfoContext(ctx, "request", "method", c.Request.Method, "path", c.Request.URL.Path,
			"query", c.Request.URL.RawQuery, "route", c.FullPath(), "status", status, "bytes", c.Writer.Size(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000, "client", c.ClientIP())
	}
}

// routeOf is the request's route pattern (/v1/indexes/:index/search): a
// span name stays one of a few.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "(no route)"
}
