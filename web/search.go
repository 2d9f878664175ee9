package web

import (
	"errors"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/coordinator"
)

// searchGET serves GET .../search?q=&size=&from=&sort=&fields=&highlight=
// plus the search options: timeout, allow_partial, min_coverage, after
// (repeatable: the tokens merge), max_lag and profile.
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
	opts, err := queryOptions(c)
	if err != nil {
		return nil, errorOf(kindInvalidParameter, err)
	}
	return s.search(c, req, opts)
}

// searchPOST serves a bleve SearchRequest body plus the search options
// (see ParseSearchBody).
func (s *Server) searchPOST(c *gin.Context) (any, error) {
	req, opts, err := ParseSearchBody(c.Request.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return s.search(c, req, opts)
}

// search runs req on the index of the path.
func (s *Server) search(c *gin.Context, req *bleve.SearchRequest, o SearchOptions) (any, error) {
	res, err := s.coord.Search(c.Request.Context(), c.Param("index"), coordinator.Request{
		Search: req, Timeout: o.Timeout, AllowPartial: o.AllowPartial, Start: startOf(c),
		MinCoverage: o.MinCoverage, After: o.After, MaxLag: o.MaxLag, Profile: o.Profile,
	})
	if err != nil {
		return nil, err
	}
	if res.Facets == nil {
		res.Facets = search.FacetResults{}
	}
	return res, nil
}
