package web

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/meta"
)

// actionKeys is the pseudo-action of managing keys: only the master key
// (--api-key) has it, so that no key can make a key wider than itself.
const actionKeys = "keys"

// principal is who sent a request: the master key, a key, or nobody.
type principal struct {
	master bool
	// key is the key's record; nil for the master key and for nobody.
	key *meta.KeyRecord
	// open is set when no key is configured at all: anyone may do
	// anything.
	open bool
	// public is set on a server with --public-search: anyone may search
	// and get.
	public bool
}

// principalKey is where the request's principal is kept in its context.
const principalKey = "shoal.principal"

// allows reports whether p may perform action on index ("" for no single
// index).
func (p principal) allows(action, index string) bool {
	switch {
	case p.master:
		return true
	case action == actionKeys:
		return false
	case p.open:
		return true
	case p.public && (action == meta.ActionSearch || action == meta.ActionGet):
		return true
	case p.key != nil:
		return p.key.Allows(action, index)
	}
	return false
}

// covers reports whether p may see index at all (for listings).
func (p principal) covers(index string) bool {
	return p.master || p.open || p.public || (p.key != nil && p.key.Covers(index))
}

// coversAll reports whether p may see every index: the master key, an
// open server, or a key for "*".
func (p principal) coversAll() bool {
	return p.master || p.open || (p.key != nil && slices.Contains(p.key.Indexes, "*"))
}

// everyIndex is the gate, after allow, of a route whose answer is about
// every index at once (/metrics, labelled by index): a key scoped to some
// indexes would read the others' names and traffic there.
func (s *Server) everyIndex(c *gin.Context) {
	if !principalOf(c).coversAll() {
		s.abort(c, newError(kindForbidden, `this route reports on every index: it needs a key for all indexes ("*")`))
	}
}

// authRequired reports whether requests need a key: when the master key
// is set or the cluster has ever had a key. It fails closed: revoking the
// last key does not reopen the API of a coordinator without --api-key
// (apikeys.Store.Configured); without the master key, that coordinator then
// refuses every request but the probes and the page.
func (s *Server) authRequired() bool {
	return s.opts.APIKey != "" || (s.opts.Keys != nil && s.opts.Keys.Configured())
}

// allow is the gate of a route that performs action on the index of its
// path (if any): it finds who is asking, charges their rate limit and
// checks that they may. With --public-search, search and get need no key.
func (s *Server) allow(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, authErr := s.authenticate(c)
		if err := s.limitRate(c, p, authErr != nil); err != nil {
			s.abort(c, err)
			return
		}
		if authErr != nil {
			s.abort(c, authErr)
			return
		}
		index := c.Param("index")
		if !p.allows(action, index) {
			s.abort(c, s.refusal(p, action, index))
			return
		}
		c.Set(principalKey, p)
	}
}

// authenticate finds the principal of c's request from its
// Authorization header.
func (s *Server) authenticate(c *gin.Context) (principal, error) {
	if !s.authRequired() {
		return principal{open: true}, nil
	}
	nobody := principal{public: s.opts.PublicSearch}
	h := c.GetHeader("Authorization")
	if h == "" {
		return nobody, nil
	}
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || key == "" {
		return nobody, newError(kindUnauthorized, "the Authorization header must be: Bearer KEY")
	}
	if s.opts.APIKey != "" && apikeys.Equal(key, s.opts.APIKey) {
		return principal{master: true}, nil
	}
	if s.opts.Keys == nil {
		return nobody, newError(kindUnauthorized, "unknown API key")
	}
	rec, err := s.opts.Keys.Lookup(key)
	if err != nil {
		if errors.Is(err, apikeys.ErrExpiredKey) {
			return nobody, errorOf(kindUnauthorized, err)
		}
		return nobody, newError(kindUnauthorized, "unknown API key")
	}
	return principal{key: rec, public: s.opts.PublicSearch}, nil
}

// refusal is the answer to p asking for action on index, which it may not.
func (s *Server) refusal(p principal, action, index string) error {
	anonymous := p.key == nil && !p.master
	switch {
	case action == actionKeys && s.opts.APIKey == "":
		return newError(kindForbidden, "keys are managed with the master key, and none is set: start the coordinator with --api-key")
	case action == actionKeys && anonymous:
		return newError(kindUnauthorized, "keys are managed with the master key (--api-key): Authorization: Bearer KEY")
	case action == actionKeys:
		return newError(kindForbidden, "keys are managed with the master key (--api-key) only")
	case anonymous:
		return newError(kindUnauthorized, fmt.Sprintf("this request needs an API key with the %q action: Authorization: Bearer KEY", action))
	case index != "" && p.key.Can(action):
		return newError(kindForbidden, fmt.Sprintf("this key may not act on index %q", index))
	default:
		return newError(kindForbidden, fmt.Sprintf("this key does not grant the %q action", action))
	}
}

// principalOf returns the principal allow found for c.
func principalOf(c *gin.Context) principal {
	if v, ok := c.Get(principalKey); ok {
		return v.(principal)
	}
	return principal{}
}
