// Package web is Shoal's HTTP door: the JSON API under /v1, health and
// readiness probes, and the search page (plain HTML, CSS and JavaScript
// embedded in the binary). It maps every typed error of the layers below to
// an HTTP status in one place.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/meta"
)

//go:embed static
var static embed.FS

// Options configure the HTTP server.
type Options struct {
	// MaxBodyBytes bounds a request body (default 100 MiB).
	MaxBodyBytes int64
	// APIKey, when set, is required (Authorization: Bearer KEY) for every
	// request that writes or administers.
	APIKey string
	// DefaultShards is the shard count of an index created without one.
	DefaultShards int
	Logger        *slog.Logger
}

// Server serves the API and the page.
type Server struct {
	opts  Options
	cat   *catalog.Catalog
	coord *coordinator.Coordinator
	ix    *indexer.Indexer
	log   *slog.Logger
}

// New builds the HTTP handler.
func New(cat *catalog.Catalog, coord *coordinator.Coordinator, ix *indexer.Indexer, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 100 << 20
	}
	if opts.DefaultShards <= 0 {
		opts.DefaultShards = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, cat: cat, coord: coord, ix: ix, log: opts.Logger}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), s.limitBody)
	r.HandleMethodNotAllowed = true
	// Route on the escaped path, so that a document id holding a slash
	// (sent as %2F, e.g. go:net%2Fhttp.Client) stays one path segment.
	r.UseRawPath = true
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.ready)

	v1 := r.Group("/v1")
	v1.GET("/indexes", s.listIndexes)
	v1.PUT("/indexes/:index", s.auth, s.createIndex)
	v1.GET("/indexes/:index", s.getIndex)
	v1.DELETE("/indexes/:index", s.auth, s.deleteIndex)
	v1.POST("/indexes/:index/bulk", s.auth, s.bulk)
	v1.PUT("/indexes/:index/docs/:id", s.auth, s.putDoc)
	v1.GET("/indexes/:index/docs/:id", s.getDoc)
	v1.DELETE("/indexes/:index/docs/:id", s.auth, s.deleteDoc)
	v1.GET("/indexes/:index/search", s.searchGET)
	v1.POST("/indexes/:index/search", s.searchPOST)
	v1.GET("/cluster", s.cluster)

	sub, _ := fs.Sub(static, "static")
	r.GET("/", func(c *gin.Context) { c.FileFromFS("/", http.FS(sub)) })
	r.StaticFS("/static", http.FS(sub))
	return r
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes)
	}
	c.Next()
}

func (s *Server) auth(c *gin.Context) {
	if s.opts.APIKey == "" {
		return
	}
	if c.GetHeader("Authorization") != "Bearer "+s.opts.APIKey {
		s.fail(c, http.StatusUnauthorized, "unauthorized", "this request needs the API key: Authorization: Bearer KEY")
	}
}

// fail writes an error body and stops the handler chain.
func (s *Server) fail(c *gin.Context, status int, typ, reason string) {
	c.AbortWithStatusJSON(status, gin.H{"error": gin.H{"type": typ, "reason": reason}})
}

// failErr maps an error of the layers below to its HTTP status.
func (s *Server) failErr(c *gin.Context, err error) {
	var mbe *http.MaxBytesError
	var reqErr *coordinator.RequestError
	var unavail *coordinator.UnavailableError
	switch {
	case errors.As(err, &mbe):
		s.fail(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, catalog.ErrIndexNotFound):
		s.fail(c, http.StatusNotFound, "index_not_found", err.Error())
	case errors.Is(err, catalog.ErrIndexExists):
		s.fail(c, http.StatusConflict, "index_exists", err.Error())
	case errors.Is(err, coordinator.ErrDocNotFound):
		s.fail(c, http.StatusNotFound, "document_not_found", err.Error())
	case errors.As(err, &reqErr):
		s.fail(c, http.StatusBadRequest, reqErr.Type, reqErr.Error())
	case errors.As(err, &unavail):
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
			"error":     gin.H{"type": "shards_unavailable", "reason": unavail.Error()},
			"shards":    unavail.Shards,
			"timed_out": unavail.TimedOut,
		})
	case errors.Is(err, context.DeadlineExceeded):
		s.fail(c, http.StatusGatewayTimeout, "timeout", err.Error())
	default:
		s.log.Error("request failed", "path", c.Request.URL.Path, "err", err)
		s.fail(c, http.StatusInternalServerError, "internal_error", err.Error())
	}
}

func (s *Server) ready(c *gin.Context) {
	if !s.coord.Connected() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"ready": false, "reason": "not connected to NATS"})
		return
	}
	if u := s.coord.Unserved(); len(u) > 0 {
		c.JSON(http.StatusServiceUnavailable, gin.H{"ready": false, "reason": "shards without a live searcher", "unserved_shards": u})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ready": true})
}

type indexSettings struct {
	Shards   *int                     `json:"shards"`
	Replicas *int                     `json:"replicas"`
	Mapping  json.RawMessage          `json:"mapping"`
	Facets   map[string]meta.FacetDef `json:"facets"`
}

func (s *Server) createIndex(c *gin.Context) {
	name := c.Param("index")
	if err := meta.ValidIndexName(name); err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_index_name", err.Error())
		return
	}
	var in indexSettings
	if err := decodeStrict(c, &in, true); err != nil {
		return
	}
	def := meta.IndexDef{Name: name, Shards: s.opts.DefaultShards, Replicas: 1, Mapping: in.Mapping, Facets: in.Facets}
	if in.Shards != nil {
		def.Shards = *in.Shards
	}
	if in.Replicas != nil {
		def.Replicas = *in.Replicas
	}
	if err := def.Validate(); err != nil {
		var ie *meta.InvalidError
		if errors.As(err, &ie) && ie.Kind == "mapping" {
			s.fail(c, http.StatusBadRequest, "invalid_mapping", err.Error())
			return
		}
		s.fail(c, http.StatusBadRequest, "invalid_settings", err.Error())
		return
	}
	created, err := s.cat.CreateIndex(c.Request.Context(), def)
	if err != nil {
		if errors.Is(err, catalog.ErrIndexExists) {
			s.failErr(c, err)
			return
		}
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"acknowledged": true, "name": created.Name, "shards": created.Shards, "replicas": created.Replicas})
}

// decodeStrict decodes a JSON body into v, rejecting unknown fields; an
// empty body is accepted when allowEmpty. It writes the error response.
func decodeStrict(c *gin.Context, v any, allowEmpty bool) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber() // a document's numbers keep their exact digits
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil && !(allowEmpty && errors.Is(err, io.EOF)) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": gin.H{"type": "body_too_large", "reason": err.Error()}})
			return err
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": gin.H{"type": "invalid_body", "reason": "request body: " + err.Error()}})
		return err
	}
	return nil
}

func (s *Server) listIndexes(c *gin.Context) {
	out := []gin.H{}
	for _, d := range s.cat.Indexes() {
		info, err := s.coord.IndexInfo(c.Request.Context(), d.Name)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, gin.H{"name": info.Name, "shards": info.Shards, "replicas": info.Replicas, "docs": info.Docs})
	}
	c.JSON(http.StatusOK, gin.H{"indexes": out})
}

func (s *Server) getIndex(c *gin.Context) {
	info, err := s.coord.IndexInfo(c.Request.Context(), c.Param("index"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

func (s *Server) deleteIndex(c *gin.Context) {
	if err := s.cat.DeleteIndex(c.Request.Context(), c.Param("index")); err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"acknowledged": true})
}

func (s *Server) cluster(c *gin.Context) {
	c.JSON(http.StatusOK, s.coord.ClusterInfo())
}

// refreshWait reads ?refresh=: "wait_for" waits until the writes are
// searchable; "" and "false" do not.
func refreshWait(c *gin.Context) (bool, error) {
	switch r := c.Query("refresh"); r {
	case "", "false":
		return false, nil
	case "wait_for", "true":
		return true, nil
	default:
		return false, fmt.Errorf("refresh must be wait_for or false, not %q", r)
	}
}

func (s *Server) bulk(c *gin.Context) {
	index := c.Param("index")
	if _, err := s.cat.Index(index); err != nil {
		s.failErr(c, err)
		return
	}
	wait, err := refreshWait(c)
	if err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	ops, bad, err := indexer.ParseNDJSON(c.Request.Body, int(s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.failErr(c, err)
			return
		}
		s.fail(c, http.StatusBadRequest, "invalid_body", err.Error())
		return
	}
	res, err := s.ix.Write(c.Request.Context(), index, ops)
	if err != nil {
		s.failErr(c, err)
		return
	}
	res.AddInvalid(bad)
	sortDocErrors(res.Errors)
	if wait {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Minute)
		defer cancel()
		if err := s.ix.WaitSearchable(ctx, index, res); err != nil {
			s.log.Warn("refresh wait incomplete", "index", index, "err", err)
		}
	}
	c.JSON(http.StatusOK, res)
}

func sortDocErrors(errs []indexer.DocError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
}

func (s *Server) putDoc(c *gin.Context) {
	index, id := c.Param("index"), c.Param("id")
	if _, err := s.cat.Index(index); err != nil {
		s.failErr(c, err)
		return
	}
	if err := indexer.ValidID(id); err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_id", err.Error())
		return
	}
	wait, err := refreshWait(c)
	if err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	var doc map[string]any
	if err := decodeStrict(c, &doc, false); err != nil {
		return
	}
	if doc == nil {
		s.fail(c, http.StatusBadRequest, "invalid_body", "the document must be a JSON object")
		return
	}
	if v, ok := doc["id"]; ok && v != id {
		s.fail(c, http.StatusBadRequest, "invalid_body", fmt.Sprintf("the body's id %v differs from the path's id %q", v, id))
		return
	}
	doc["id"] = id
	raw, err := json.Marshal(doc)
	if err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_body", err.Error())
		return
	}
	s.writeOne(c, index, indexer.Op{ID: id, Doc: raw}, wait, "indexed")
}

func (s *Server) writeOne(c *gin.Context, index string, op indexer.Op, wait bool, result string) {
	res, err := s.ix.Write(c.Request.Context(), index, []indexer.Op{op})
	if err != nil {
		s.failErr(c, err)
		return
	}
	if res.Failed > 0 {
		s.fail(c, http.StatusServiceUnavailable, "write_failed", res.Errors[0].Err)
		return
	}
	if wait {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
		defer cancel()
		_ = s.ix.WaitSearchable(ctx, index, res)
	}
	body := gin.H{"id": op.ID, "result": result}
	if res.Refreshed != nil {
		body["refreshed"] = *res.Refreshed
	}
	c.JSON(http.StatusOK, body)
}

func (s *Server) getDoc(c *gin.Context) {
	doc, err := s.coord.Get(c.Request.Context(), c.Param("index"), c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", doc)
}

func (s *Server) deleteDoc(c *gin.Context) {
	index, id := c.Param("index"), c.Param("id")
	if _, err := s.cat.Index(index); err != nil {
		s.failErr(c, err)
		return
	}
	wait, err := refreshWait(c)
	if err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	s.writeOne(c, index, indexer.Op{ID: id, Delete: true}, wait, "deleted")
}

// searchGET serves GET .../search?q=&size=&from=&sort=&fields=&timeout=&allow_partial=.
func (s *Server) searchGET(c *gin.Context) {
	q := c.Query("q")
	if strings.TrimSpace(q) == "" {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", "q is required (bleve query-string syntax, e.g. q=title:river)")
		return
	}
	size, err1 := intParam(c, "size", 10)
	from, err2 := intParam(c, "from", 0)
	if err := errors.Join(err1, err2); err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), size, from, false)
	req.Fields = []string{"*"}
	if f := c.Query("fields"); f != "" {
		req.Fields = strings.Split(f, ",")
	}
	if so := c.Query("sort"); so != "" {
		req.SortBy(strings.Split(so, ","))
	}
	if h := c.Query("highlight"); h == "true" || h == "1" {
		req.Highlight = bleve.NewHighlightWithStyle("html")
	}
	timeout, allow, err := searchOptions(c.Query("timeout"), c.Query("allow_partial"))
	if err != nil {
		s.fail(c, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	s.search(c, req, timeout, allow)
}

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

// searchPOST serves a bleve SearchRequest body plus timeout and
// allow_partial.
func (s *Server) searchPOST(c *gin.Context) {
	req, timeout, allow, err := ParseSearchBody(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.failErr(c, err)
			return
		}
		s.fail(c, http.StatusBadRequest, "invalid_body", err.Error())
		return
	}
	s.search(c, req, timeout, allow)
}

func (s *Server) search(c *gin.Context, req *bleve.SearchRequest, timeout time.Duration, allow bool) {
	res, err := s.coord.Search(c.Request.Context(), c.Param("index"), coordinator.Request{Search: req, Timeout: timeout, AllowPartial: allow})
	if err != nil {
		s.failErr(c, err)
		return
	}
	if res.Facets == nil {
		res.Facets = search.FacetResults{}
	}
	c.JSON(http.StatusOK, res)
}
