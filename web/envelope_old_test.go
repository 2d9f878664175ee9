package web

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func renderError(t *testing.T, err error) (int, []byte) {
	s := &Server{opts: quietOptions(), log: quietOptions().Logger}
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("GET", "/v1/indexes/books/search", nil)
	s.failErr(c, err)
	return rec.Code, rec.Body.Bytes()
}

func renderFail(status int, typ, reason string) (int, []byte) {
	s := &Server{opts: quietOptions(), log: quietOptions().Logger}
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("GET", "/v1/indexes/books/search", nil)
	s.fail(c, status, typ, reason)
	return rec.Code, rec.Body.Bytes()
}

func TestDirectOld(t *testing.T) {
	for _, tt := range []struct {
		name        string
		status      int
		typ, reason string
	}{
		{"write_failed", 503, "write_failed", "shard 2: stream unavailable <retry>"},
		{"invalid_id", 400, "invalid_id", `"id" must not be empty`},
		{"invalid_parameter", 400, "invalid_parameter", `refresh must be wait_for or false, not "sometimes"`},
		{"invalid_body", 400, "invalid_body", "the document must be a JSON object"},
	} {
		st, b := renderFail(tt.status, tt.typ, tt.reason)
		goldenRaw(t, tt.name, st, b)
	}
}
