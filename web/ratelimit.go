package web

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// maxBuckets bounds the token buckets kept; past it, buckets idle for a
// refill are forgotten (a full bucket is what a new one would be).
const maxBuckets = 100_000

// buckets are token buckets by name ("key:ID" or "addr:IP"): each fills
// at its rate up to a second's worth (at least one request) and every
// request takes a token.
type buckets struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// take takes a token from the bucket name filling at perSecond; when none
// is left it returns how long until one is.
func (b *buckets) take(name string, perSecond float64, now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*bucket{}
	}
	bk := b.m[name]
	if bk == nil || float64(bk.lim.Limit()) != perSecond {
		if len(b.m) >= maxBuckets {
			b.sweep(now)
		}
		burst := max(1, int(math.Ceil(perSecond)))
		bk = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
		b.m[name] = bk
	}
	bk.used = now
	r := bk.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets the buckets that have refilled since last used; if that
// frees nothing, it forgets them all, which errs toward letting requests
// through rather than holding unbounded memory.
func (b *buckets) sweep(now time.Time) {
	for name, bk := range b.m {
		full := time.Duration(float64(bk.lim.Burst()) / float64(bk.lim.Limit()) * float64(time.Second))
		if now.Sub(bk.used) > full {
			delete(b.m, name)
		}
	}
	if len(b.m) >= maxBuckets {
		clear(b.m)
	}
}

// limitRate charges the request's bucket: its key's when the key has a
// rate; on a server that needs keys, its client address's when it comes
// without a key (--public-search) or with a refused one (which slows down
// guessing), if Options.RatePerAddress is set. The master key and an open
// server (no key at all) are not limited.
func (s *Server) limitRate(c *gin.Context, p principal, refused bool) error {
	var name string
	var perSecond float64
	switch {
	case p.master && !refused:
		return nil
	case p.key != nil && !refused:
		if p.key.Rate <= 0 {
			return nil
		}
		name, perSecond = "key:"+p.key.ID, p.key.Rate
	case s.opts.RatePerAddress > 0 && !p.open:
		name, perSecond = "addr:"+clientAddr(c), s.opts.RatePerAddress
	default:
		return nil
	}
	wait, ok := s.buckets.take(name, perSecond, time.Now())
	if ok {
		return nil
	}
	e := newError(kindRateLimited, fmt.Sprintf("too many requests: the limit is %g per second", perSecond))
	e.retryAfter, e.limit = wait, LimitRate
	return e
}

// clientAddr is the address the request came from, as its rate limit
// knows it: the IPv4 address, or the IPv6 /64 network, since one IPv6
// host commonly holds a whole /64 and could take a fresh address, and a
// fresh bucket, for every request. Forwarding headers are not believed:
// any client could set them.
func clientAddr(c *gin.Context) string {
	return addrKey(c.Request.RemoteAddr)
}

// addrKey is clientAddr of a request's RemoteAddr.
func addrKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
