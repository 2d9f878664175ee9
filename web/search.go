package web

import (
	"errors"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/coordinator"
)

// searchGET serves GET .../search?q=&size=&from=&sort=&fields=&highlight=&timeout=&allow_partial=.
func (s *Server) searchGET(c *gin.Context) (any, error) {
	q := c.Query("q")
	if strings.TrimSpace(q) == "" {
		return nil, newError(kindInvalidParameter, "q is required (bleve query-string syntax, e.g. q=title:river)")
	}
	size, err1 := intParam(c, "size", 10)
	from, err2 := intParam(c, "from", 0)
	if err := errors.Join(err1, err2); err != nil {
		return nil, errorOf(kindInvalidParameter, err)
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
		return nil, errorOf(kindInvalidParameter, err)
	}
	return s.search(c, req, timeout, allow)
}

// searchPOST serves a bleve SearchRequest body plus timeout and
// allow_partial (see ParseSearchBody).
func (s *Server) searchPOST(c *gin.Context) (any, error) {
	req, timeout, allow, err := ParseSearchBody(c.Request.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return s.search(c, req, timeout, allow)
}

// search runs req on the index of the path.
func (s *Server) search(c *gin.Context, req *bleve.SearchRequest, timeout time.Duration, allow bool) (any, error) {
	res, err := s.coord.Search(c.Request.Context(), c.Param("index"), coordinator.Request{Search: req, Timeout: timeout, AllowPartial: allow})
	if err != nil {
		return nil, err
	}
	if res.Facets == nil {
		res.Facets = search.FacetResults{}
	}
	return res, nil
}
