package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process is up.
func (s *Server) healthz(*gin.Context) (any, error) {
	return gin.H{"status": "ok"}, nil
}

// readyz says whether searches and writes can be served in full:
// connected to NATS, the catalog buckets and every index's stream present,
// every searcher able to take requests, and every shard served by a live
// searcher. Not ready is a 503 whose body says why; it is an answer, not
// an error.
func (s *Server) readyz(c *gin.Context) (any, error) {
	if !s.coord.Connected() {
		return withStatus{http.StatusServiceUnavailable, gin.H{"ready": false, "reason": "not connected to NATS"}}, nil
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	problems := s.cat.Problems(ctx)
	unserved := s.coord.Unserved()
	if len(problems) == 0 && len(unserved) == 0 {
		return gin.H{"ready": true}, nil
	}
	body := gin.H{"ready": false}
	if len(problems) > 0 {
		body["reason"] = problems[0]
		body["problems"] = problems
	} else {
		body["reason"] = "shards without a live searcher"
	}
	if len(unserved) > 0 {
		body["unserved_shards"] = unserved
	}
	return withStatus{http.StatusServiceUnavailable, body}, nil
}
