package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/meta"
)

// keySpec is the body of POST /v1/keys.
type keySpec struct {
	Description string     `json:"description"`
	Actions     []string   `json:"actions"`
	Indexes     []string   `json:"indexes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	Rate        float64    `json:"rate"`
}

// keyView is a key as the API shows it: never its secret, nor its hash.
type keyView struct {
	ID          string     `json:"id"`
	Description string     `json:"description,omitempty"`
	Actions     []string   `json:"actions"`
	Indexes     []string   `json:"indexes"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Rate        float64    `json:"rate,omitempty"`
	Created     time.Time  `json:"created"`
}

func viewOf(k *meta.KeyRecord) keyView {
	return keyView{ID: k.ID, Description: k.Description, Actions: k.Actions, Indexes: k.Indexes, ExpiresAt: k.ExpiresAt, Rate: k.Rate, Created: k.Created}
}

// keyStore is the server's key store, or the answer that there is none.
func (s *Server) keyStore() (*apikeys.Store, error) {
	if s.opts.Keys == nil {
		return nil, newError(kindNotFound, "this server keeps no API keys")
	}
	return s.opts.Keys, nil
}

// createKey serves POST /v1/keys: it answers the new key, once, with its
// id and scope: {"id":…,"key":…,…}.
func (s *Server) createKey(c *gin.Context) (any, error) {
	store, err := s.keyStore()
	if err != nil {
		return nil, err
	}
	var in keySpec
	if err := decodeStrict(c.Request.Body, &in, false); err != nil {
		return nil, err
	}
	rec, key, err := store.Create(c.Request.Context(), apikeys.Spec{
		Description: in.Description, Actions: in.Actions, Indexes: in.Indexes, ExpiresAt: in.ExpiresAt, Rate: in.Rate,
	})
	if err != nil {
		return nil, err
	}
	return withStatus{http.StatusCreated, struct {
		keyView
		Key string `json:"key"`
	}{viewOf(rec), key}}, nil
}

// listKeys serves GET /v1/keys: every key, without secrets.
func (s *Server) listKeys(*gin.Context) (any, error) {
	store, err := s.keyStore()
	if err != nil {
		return nil, err
	}
	out := []keyView{}
	for _, k := range store.List() {
		out = append(out, viewOf(&k))
	}
	return gin.H{"keys": out}, nil
}

// revokeKey serves DELETE /v1/keys/{id}.
func (s *Server) revokeKey(c *gin.Context) (any, error) {
	store, err := s.keyStore()
	if err != nil {
		return nil, err
	}
	if err := store.Revoke(c.Request.Context(), c.Param("key")); err != nil {
		return nil, err
	}
	return gin.H{"acknowledged": true}, nil
}
