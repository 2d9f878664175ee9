package web

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/meta"
)

// indexSettings is the body of PUT /v1/indexes/{index}; every field is
// optional.
type indexSettings struct {
	Shards   *int                     `json:"shards"`
	Replicas *int                     `json:"replicas"`
	Mapping  json.RawMessage          `json:"mapping"`
	Facets   map[string]meta.FacetDef `json:"facets"`
}

// createIndex serves PUT /v1/indexes/{index}.
func (s *Server) createIndex(c *gin.Context) (any, error) {
	name := c.Param("index")
	if err := meta.ValidIndexName(name); err != nil {
		return nil, errorOf(kindInvalidIndexName, err)
	}
	var in indexSettings
	if err := decodeStrict(c.Request.Body, &in, true); err != nil {
		return nil, err
	}
	def := meta.IndexDef{Name: name, Shards: s.opts.DefaultShards, Replicas: 1, Mapping: in.Mapping, Facets: in.Facets}
	if in.Shards != nil {
		def.Shards = *in.Shards
	}
	if in.Replicas != nil {
		def.Replicas = *in.Replicas
	}
	// Errors of the layers below are returned as they are: their message
	// is the reason the client reads.
	if err := def.Validate(); err != nil {
		return nil, err
	}
	created, err := s.cat.CreateIndex(c.Request.Context(), def)
	if err != nil {
		return nil, err
	}
	return withStatus{http.StatusCreated, gin.H{
		"acknowledged": true, "name": created.Name, "shards": created.Shards, "replicas": created.Replicas,
	}}, nil
}

// listIndexes serves GET /v1/indexes: the indexes the caller may see.
func (s *Server) listIndexes(c *gin.Context) (any, error) {
	out := []gin.H{}
	p := principalOf(c)
	for _, d := range s.cat.Indexes() {
		if !p.covers(d.Name) {
			continue
		}
		info, err := s.coord.IndexInfo(c.Request.Context(), d.Name)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, gin.H{"name": info.Name, "shards": info.Shards, "replicas": info.Replicas, "docs": info.Docs})
	}
	return gin.H{"indexes": out}, nil
}

// getIndex serves GET /v1/indexes/{index}.
func (s *Server) getIndex(c *gin.Context) (any, error) {
	info, err := s.coord.IndexInfo(c.Request.Context(), c.Param("index"))
	if err != nil {
		return nil, err
	}
	return info, nil
}

// deleteIndex serves DELETE /v1/indexes/{index}.
func (s *Server) deleteIndex(c *gin.Context) (any, error) {
	if err := s.cat.DeleteIndex(c.Request.Context(), c.Param("index")); err != nil {
		return nil, err
	}
	return gin.H{"acknowledged": true}, nil
}

// cluster serves GET /v1/cluster. An admin key scoped to some indexes
// sees the nodes, but only its indexes' placement, copies and unserved
// shards: one tenant's key does not list another's indexes.
func (s *Server) cluster(c *gin.Context) (any, error) {
	return scopeCluster(s.coord.ClusterInfo(), principalOf(c).covers), nil
}

// scopeCluster returns ci with only the indexes covers accepts. It leaves
// ci's slices alone: they may be shared with the catalog.
func scopeCluster(ci *coordinator.ClusterInfo, covers func(index string) bool) *coordinator.ClusterInfo {
	out := *ci
	out.Placement = map[string]*meta.ShardMap{}
	for name, m := range ci.Placement {
		if covers(name) {
			out.Placement[name] = m
		}
	}
	out.Unserved = map[string][]int{}
	for name, shards := range ci.Unserved {
		if covers(name) {
			out.Unserved[name] = shards
		}
	}
	out.Nodes = make([]coordinator.NodeInfo, len(ci.Nodes))
	for i, n := range ci.Nodes {
		n.Copies = []meta.CopyStatus{}
		for _, cp := range ci.Nodes[i].Copies {
			if covers(cp.Index) {
				n.Copies = append(n.Copies, cp)
			}
		}
		out.Nodes[i] = n
	}
	return &out
}
