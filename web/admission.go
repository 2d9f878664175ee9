package web

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// admission bounds the searches in flight: up to slots run at once, up to
// queue more wait (each at most wait) for one of them to end, and any more
// are refused at once, so that a burst is answered with 429s instead of
// piling up.
type admission struct {
	slots   chan struct{}
	queue   int64
	wait    time.Duration
	waiting atomic.Int64
	m       *metrics
}

func newAdmission(slots, queue int, wait time.Duration, m *metrics) *admission {
	return &admission{slots: make(chan struct{}, slots), queue: int64(queue), wait: wait, m: m}
}

// enter takes a slot, waiting in the queue if there is room in it; it
// returns the function that gives the slot back.
func (a *admission) enter(ctx context.Context) (func(), error) {
	release := func() {
		<-a.slots
		a.m.inFlight.Dec()
	}
	select {
	case a.slots <- struct{}{}:
		a.m.inFlight.Inc()
		return release, nil
	default:
	}
	if a.waiting.Add(1) > a.queue {
		a.waiting.Add(-1)
		return nil, a.overloaded()
	}
	a.m.queued.Inc()
	defer func() {
		a.waiting.Add(-1)
		a.m.queued.Dec()
	}()
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		a.m.inFlight.Inc()
		return release, nil
	case <-t.C:
		return nil, a.overloaded()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) overloaded() error {
	e := newError(kindOverloaded, fmt.Sprintf("too many searches at once (this coordinator runs %d and queues %d): try again shortly", cap(a.slots), a.queue))
	e.limit = LimitConcurrentSearches
	e.retryAfter = time.Second
	return e
}

// admit is the gate of the search routes: the search runs holding a slot.
func (s *Server) admit(c *gin.Context) {
	release, err := s.admission.enter(c.Request.Context())
	if err != nil {
		s.abort(c, err)
		return
	}
	defer release()
	c.Next()
}
