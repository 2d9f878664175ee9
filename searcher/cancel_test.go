package searcher

import (
	"context"
	"testing"
)

// TestCancels drives the cancel registry through each order of events.
func TestCancels(t *testing.T) {
	tests := []struct {
		name    string
		steps   string // b: begin, c: cancel, e: end
		begun   bool   // what begin reported
		stopped uint64
		ctxDone bool
	}{
		{"cancel while running", "bc", true, 1, true},
		{"cancel before it begins", "cb", false, 1, true},
		{"cancel after it ended", "bec", true, 0, false},
		{"no cancel", "be", true, 0, false},
		{"cancel twice while running", "bcc", true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCancels()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			begun := true
			for _, step := range tt.steps {
				switch step {
				case 'b':
					begun = c.begin("id", cancel)
					if !begun {
						cancel() // as searchContext does
					}
				case 'c':
					c.cancel("id")
				case 'e':
					c.end("id")
				}
			}
			if begun != tt.begun {
				t.Errorf("begin reported %v, want %v", begun, tt.begun)
			}
			if got := c.stopped.Load(); got != tt.stopped {
				t.Errorf("%d stopped, want %d", got, tt.stopped)
			}
			if done := ctx.Err() != nil; done != tt.ctxDone {
				t.Errorf("context done %v, want %v", done, tt.ctxDone)
			}
		})
	}
	// An id-less search is never cancelled, and the set of early cancels
	// stays bounded.
	c := newCancels()
	c.cancel("")
	if !c.begin("", func() {}) || c.stopped.Load() != 0 {
		t.Error("an empty id was cancelled")
	}
	for i := range 3 * earlyLimit {
		c.cancel(string(rune(i)) + "x")
	}
	if len(c.early) > earlyLimit {
		t.Errorf("%d early cancels kept, limit %d", len(c.early), earlyLimit)
	}
}
