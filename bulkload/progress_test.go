package bulkload

import (
	"testing"
	"time"
)

func TestRateWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	w := rateWindow{samples: []rateSample{{t: t0}}}
	tests := []struct {
		at               time.Duration
		docs, bytes      int64
		docRate, byteRte float64
	}{
		{time.Second, 100, 1000, 100, 1000},
		{2 * time.Second, 300, 2000, 150, 1000},
		// Older samples drop out of the 10 s window.
		{22 * time.Second, 1300, 2000, 50, 0},
		{23 * time.Second, 1400, 3000, 100, 1000},
	}
	for _, tt := range tests {
		d, b := w.add(t0.Add(tt.at), tt.docs, tt.bytes)
		if d != tt.docRate || b != tt.byteRte {
			t.Errorf("at %v: rates %v, %v; want %v, %v", tt.at, d, b, tt.docRate, tt.byteRte)
		}
	}
}
