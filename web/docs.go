package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/token"
)

// bulk serves POST /v1/indexes/{index}/bulk: NDJSON, one document (or
// {"id":…,"_delete":true}) a line. Lines that are not valid documents are
// reported in the answer's errors, not failed.
func (s *Server) bulk(c *gin.Context) (any, error) {
	index := c.Param("index")
	after, err := s.writeAfter(c, index)
	if err != nil {
		return nil, err
	}
	wait, err := refreshWait(c)
	if err != nil {
		return nil, err
	}
	ops, bad, err := indexer.ParseNDJSON(c.Request.Body, int(s.opts.MaxBodyBytes))
	if err != nil {
		return nil, bodyError(err)
	}
	ctx, cancel, err := writeContext(c)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := s.ix.Write(ctx, index, ops)
	if err != nil {
		return nil, err
	}
	if err := mergeToken(res, after); err != nil {
		return nil, err
	}
	res.AddInvalid(bad)
	s.ix.Refused(index, bad)
	sortDocErrors(res.Errors)
	if ae := bulkFailure(res); ae != nil {
		return nil, ae
	}
	if wait {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Minute)
		defer cancel()
		if err := s.ix.WaitSearchable(ctx, index, res); err != nil {
			s.log.WarnContext(ctx, "refresh wait incomplete", "index", index, "err", err)
		} else {
			s.coord.Written(index, res.Written()) // counted in the next search's statistics
		}
	}
	return res, nil
}

// writeAfter checks that index exists and reads the write's ?after=
// tokens, which must be of that index: the answer's token then covers
// both, so a client keeps only the last token it got.
func (s *Server) writeAfter(c *gin.Context, index string) (token.Token, error) {
	def, err := s.cat.Index(index)
	if err != nil {
		return token.Token{}, err
	}
	after, err := afterParam(c)
	if err != nil {
		return after, err
	}
	if !after.IsZero() && after.UID != def.UID {
		return after, newError(kindIndexReplaced, fmt.Sprintf(
			"the token (after) was issued by another index, or by an earlier incarnation of %q since deleted and created again", index))
	}
	return after, nil
}

// mergeToken makes res's token cover the writes of after too.
func mergeToken(res *indexer.Result, after token.Token) error {
	t, err := token.Merge(res.Written(), after)
	if err != nil { // the index was created again while we wrote
		return newError(kindIndexReplaced, "the index was deleted and created again during the write: "+err.Error())
	}
	res.Token = t.String()
	return nil
}

// sortDocErrors orders a bulk answer's errors by line.
func sortDocErrors(errs []indexer.DocError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
}

// putDoc serves PUT /v1/indexes/{index}/docs/{id}: the body is the
// document, whose "id", if any, must be the path's.
func (s *Server) putDoc(c *gin.Context) (any, error) {
	index := c.Param("index")
	id, err := docID(c)
	if err != nil {
		return nil, err
	}
	if _, err := s.cat.Index(index); err != nil {
		return nil, err
	}
	if err := indexer.ValidID(id); err != nil {
		return nil, errorOf(kindInvalidID, err)
	}
	wait, err := refreshWait(c)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := decodeStrict(c.Request.Body, &doc, false); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, newError(kindInvalidBody, "the document must be a JSON object")
	}
	if v, ok := doc["id"]; ok && v != id {
		return nil, newError(kindInvalidBody, fmt.Sprintf("the body's id %v differs from the path's id %q", v, id))
	}
	after, err := s.writeAfter(c, index)
	if err != nil {
		return nil, err
	}
	doc["id"] = id
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, errorOf(kindInvalidBody, err)
	}
	return s.writeOne(c, index, indexer.Op{ID: id, Doc: raw}, after, wait, "indexed")
}

// deleteDoc serves DELETE /v1/indexes/{index}/docs/{id}.
func (s *Server) deleteDoc(c *gin.Context) (any, error) {
	index := c.Param("index")
	id, err := docID(c)
	if err != nil {
		return nil, err
	}
	after, err := s.writeAfter(c, index)
	if err != nil {
		return nil, err
	}
	wait, err := refreshWait(c)
	if err != nil {
		return nil, err
	}
	return s.writeOne(c, index, indexer.Op{ID: id, Delete: true}, after, wait, "deleted")
}

// writeOne writes one document (or deletes it) and answers with its id,
// result, incarnation and read-your-writes token (covering after too); a
// document JetStream did not store is a write_failed error.
func (s *Server) writeOne(c *gin.Context, index string, op indexer.Op, after token.Token, wait bool, result string) (any, error) {
	ctx, cancel, err := writeContext(c)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := s.ix.Write(ctx, index, []indexer.Op{op})
	if err != nil {
		return nil, err
	}
	if res.Failed > 0 {
		ae := docFailure(res.Errors[0])
		ae.extra["id"] = op.ID
		return nil, ae
	}
	if err := mergeToken(res, after); err != nil {
		return nil, err
	}
	if wait {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if s.ix.WaitSearchable(ctx, index, res) == nil {
			s.coord.Written(index, res.Written()) // counted in the next search's statistics
		}
	}
	body := gin.H{"id": op.ID, "result": result, "index_uid": res.IndexUID, "token": res.Token}
	if res.Refreshed != nil {
		body["refreshed"] = *res.Refreshed
	}
	return body, nil
}

// getDoc serves GET /v1/indexes/{index}/docs/{id}: the stored document,
// byte for byte. With ?after=TOKEN it is read from a copy that has
// applied the token's writes; ?timeout= bounds the read.
func (s *Server) getDoc(c *gin.Context) (any, error) {
	id, err := docID(c)
	if err != nil {
		return nil, err
	}
	o, err := parseOptions(rawOptions{timeout: c.Query("timeout"), after: c.QueryArray("after")})
	if err != nil {
		return nil, errorOf(kindInvalidParameter, err)
	}
	doc, err := s.coord.Get(c.Request.Context(), c.Param("index"), id, coordinator.GetOptions{After: o.After, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return rawJSON(doc), nil
}
