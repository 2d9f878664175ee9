package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var static embed.FS

// routes is the route table: the API under /v1, the probes and the page.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(s.trace, gin.Recovery(), s.limitBody)
	r.HandleMethodNotAllowed = true
	// Route on the escaped path, so that a document id holding a slash
	// (sent as %2F, e.g. go:net%2Fhttp.Client) stays one path segment.
	r.UseRawPath = true
	r.NoRoute(s.handle(noRoute))
	r.NoMethod(s.handle(noMethod))

	r.GET("/healthz", s.handle(s.healthz))
	r.GET("/readyz", s.handle(s.readyz))
	if s.opts.Metrics != nil {
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)})))
	}

	v1 := r.Group("/v1")
	v1.GET("/indexes", s.handle(s.listIndexes))
	v1.PUT("/indexes/:index", s.auth, s.handle(s.createIndex))
	v1.GET("/indexes/:index", s.handle(s.getIndex))
	v1.DELETE("/indexes/:index", s.auth, s.handle(s.deleteIndex))
	v1.POST("/indexes/:index/bulk", s.auth, s.handle(s.bulk))
	v1.PUT("/indexes/:index/docs/:id", s.auth, s.handle(s.putDoc))
	v1.GET("/indexes/:index/docs/:id", s.handle(s.getDoc))
	v1.DELETE("/indexes/:index/docs/:id", s.auth, s.handle(s.deleteDoc))
	v1.GET("/indexes/:index/search", s.handle(s.searchGET))
	v1.POST("/indexes/:index/search", s.handle(s.searchPOST))
	v1.GET("/cluster", s.handle(s.cluster))

	sub, _ := fs.Sub(static, "static")
	r.GET("/", func(c *gin.Context) { c.FileFromFS("/", http.FS(sub)) })
	r.StaticFS("/static", http.FS(sub))
	return r
}

// noRoute answers a path no route matches.
func noRoute(c *gin.Context) (any, error) {
	return nil, newError(kindNotFound, "no such route: "+c.Request.Method+" "+c.Request.URL.Path)
}

// noMethod answers a known path asked with a method it does not serve.
func noMethod(c *gin.Context) (any, error) {
	return nil, newError(kindMethodNotAllowed, c.Request.Method+" is not allowed on "+c.Request.URL.Path)
}
