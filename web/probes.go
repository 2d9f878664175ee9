package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// healthz says the process is up.
func (s *Server) healthz(*gin.Context) (any, error) {
	return gin.H{"status": "ok"}, nil
}

// readyz says whether searches can be answered in full: connected to NATS
// and every shard served by a live searcher. Not ready is a 503 whose body
// says why; it is an answer, not an error.
func (s *Server) readyz(*gin.Context) (any, error) {
	if !s.coord.Connected() {
		return withStatus{http.StatusServiceUnavailable, gin.H{"ready": false, "reason": "not connected to NATS"}}, nil
	}
	if u := s.coord.Unserved(); len(u) > 0 {
		return withStatus{http.StatusServiceUnavailable, gin.H{"ready": false, "reason": "shards without a live searcher", "unserved_shards": u}}, nil
	}
	return gin.H{"ready": true}, nil
}
