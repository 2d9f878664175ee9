package testwait_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

func TestUntil(t *testing.T) {
	tests := []struct {
		name      string
		succeedAt int // the call that first returns nil; 0 = never
		wantErr   bool
	}{
		{"at once", 1, false},
		{"after a few polls", 4, false},
		{"never", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, last := 0, ""
			// Four polls take 30 ms; the second leaves a busy machine
			// (CI, tests side by side) time to run them.
			err := testwait.Until(context.Background(), time.Second, 10*time.Millisecond, func() error {
				calls++
				if tt.succeedAt > 0 && calls >= tt.succeedAt {
					return nil
				}
				last = fmt.Sprintf("not yet: call %d", calls)
				return errors.New(last)
			})
			if !tt.wantErr {
				if err != nil || calls != tt.succeedAt {
					t.Fatalf("err %v after %d calls, want nil after %d", err, calls, tt.succeedAt)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), last) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v, want the last check's error %q and the deadline", err, last)
			}
		})
	}
}

// TestSteady: Steady returns a figure once it has stopped changing, not
// before.
func TestSteady(t *testing.T) {
	reads := 0
	got := testwait.Steady(t, 10*time.Second, time.Millisecond, 3, func() int {
		reads++
		return min(reads, 5) // 1, 2, 3, 4, then 5 for good
	})
	if got != 5 || reads < 5+3 {
		t.Fatalf("Steady gave %d after %d reads, want 5 after at least 8", got, reads)
	}
}
