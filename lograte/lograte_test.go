package lograte

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name        string
		at          time.Duration
		want        bool
		wantSkipped int
	}{
		{"first passes", 0, true, 0},
		{"within the interval is held", 100 * time.Millisecond, false, 0},
		{"again held", 900 * time.Millisecond, false, 0},
		{"after the interval passes, counting the held", time.Second, true, 2},
		{"held again", 1500 * time.Millisecond, false, 0},
	}
	l := &Limiter{Every: time.Second}
	for _, tt := range tests {
		ok, skipped := l.Allow(t0.Add(tt.at))
		if ok != tt.want || skipped != tt.wantSkipped {
			t.Errorf("%s: Allow = %v, %d; want %v, %d", tt.name, ok, skipped, tt.want, tt.wantSkipped)
		}
	}
}
