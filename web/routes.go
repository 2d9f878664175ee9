package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shoal-search/shoal/meta"
)

//go:embed static
var static embed.FS

// routes is the route table: the API under /v1, the probes and the page.
// Each API route names the action it performs (allow), so it needs a key
// with that action when keys are configured; the probes and the page are
// open.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(stamp, s.trace, gin.Recovery(), secureHeaders, limitBody(s.opts.MaxBodyBytes))
	r.HandleMethodNotAllowed = true
	// Route on the escaped path, so that a document id holding a slash
	// (sent as %2F, e.g. go:net%2Fhttp.Client) stays one path segment.
	r.UseRawPath = true
	r.NoRoute(s.handle(noRoute))
	r.NoMethod(s.handle(noMethod))

	r.GET("/healthz", s.handle(s.healthz))
	r.GET("/readyz", s.handle(s.readyz))
	if s.opts.Metrics != nil {
		r.GET("/metrics", s.allow(meta.ActionAdmin), s.everyIndex,
			gin.WrapH(promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)})))
	}

	var (
		search = s.allow(meta.ActionSearch)
		get    = s.allow(meta.ActionGet)
		write  = s.allow(meta.ActionWrite)
		admin  = s.allow(meta.ActionAdmin)
		keys   = s.allow(actionKeys)
		json   = s.bodyType(jsonTypes)
		ndjson = s.bodyType(ndjsonTypes)
		query  = []gin.HandlerFunc{search, s.admit, limitBody(s.opts.MaxSearchBody)}
	)
	v1 := r.Group("/v1")
	v1.GET("/indexes", search, s.handle(s.listIndexes))
	v1.PUT("/indexes/:index", admin, json, s.handle(s.createIndex))
	v1.GET("/indexes/:index", search, s.handle(s.getIndex))
	v1.DELETE("/indexes/:index", admin, s.handle(s.deleteIndex))
	v1.POST("/indexes/:index/bulk", write, ndjson, s.handle(s.bulk))
	v1.PUT("/indexes/:index/docs/:id", write, json, s.handle(s.putDoc))
	v1.GET("/indexes/:index/docs/:id", get, s.handle(s.getDoc))
	v1.DELETE("/indexes/:index/docs/:id", write, s.handle(s.deleteDoc))
	v1.GET("/indexes/:index/search", append(query, s.handle(s.searchGET))...)
	v1.POST("/indexes/:index/search", append(query, s.handle(s.searchPOST))...)
	v1.GET("/cluster", admin, s.handle(s.cluster))
	v1.POST("/keys", keys, json, s.handle(s.createKey))
	v1.GET("/keys", keys, s.handle(s.listKeys))
	v1.DELETE("/keys/:key", keys, s.handle(s.revokeKey))

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
