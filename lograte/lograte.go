// Package lograte lets a log line through at most once per interval and
// counts the ones it held back, so that what a client can trigger at will
// (a partial answer, a refused request) cannot flood the log.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets one event through per Every; the zero Every lets every
// event through. It is safe for concurrent use.
type Limiter struct {
	Every time.Duration

	mu      sync.Mutex
	next    time.Time
	skipped int
}

// Allow reports whether the event at now may be logged and, if so, how
// many events it held back since the last one it let through.
func (l *Limiter) Allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.skipped++
		return false, 0
	}
	skipped := l.skipped
	l.next, l.skipped = now.Add(l.Every), 0
	return true, skipped
}
