package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

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
	profile, err := boolParam(c.Query("profile"), "profile")
	if err != nil {
		return nil, errorOf(kindInvalidParameter, err)
	}
	return s.search(c, coordinator.Request{Search: req, Timeout: timeout, AllowPartial: allow, Profile: profile})
}

// searchPOST serves a bleve SearchRequest body plus timeout and
// allow_partial (see ParseSearchBody).
func (s *Server) searchPOST(c *gin.Context) (any, error) {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	req, timeout, allow, err := ParseSearchBody(bytes.NewReader(raw))
	if err != nil {
		return nil, bodyError(err)
	}
	profile, err := profileFlag(raw)
	if err != nil {
		return nil, bodyError(err)
	}
	return s.search(c, coordinator.Request{Search: req, Timeout: timeout, AllowPartial: allow, Profile: profile})
}

// profileFlag reads a search body's "profile" (default false).
func profileFlag(raw []byte) (bool, error) {
	var b struct {
		Profile *bool `json:"profile"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf(`search body: "profile" must be true or false: %w`, err)
	}
	return b.Profile != nil && *b.Profile, nil
}

// boolParam reads a boolean query parameter name ("" is false).
func boolParam(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, not %q", name, v)
	}
	return b, nil
}

// search runs req on the index of the path.
func (s *Server) search(c *gin.Context, req coordinator.Request) (any, error) {
	req.Start = startOf(c)
	res, err := s.coord.Search(c.Request.Context(), c.Param("index"), req)
	if err != nil {
		return nil, err
	}
	if res.Facets == nil {
		res.Facets = search.FacetResults{}
	}
	return res, nil
}
