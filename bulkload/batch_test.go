package bulkload

import "testing"

func TestOrderGuard(t *testing.T) {
	g := newOrderGuard(4)
	b1, b2 := newBatch(0), newBatch(0)
	for _, id := range []string{"a", "b", "c"} {
		g.add(id, b1)
	}
	tests := []struct {
		id   string
		cur  *batch
		want *batch
	}{
		{"a", b1, nil}, // same batch: in order already
		{"a", b2, b1},  // in flight elsewhere
		{"z", b2, nil}, // never seen
	}
	for _, tt := range tests {
		if got := g.inFlight(tt.id, tt.cur); got != tt.want {
			t.Errorf("inFlight(%q) = %p, want %p", tt.id, got, tt.want)
		}
	}
	close(b1.done)
	if got := g.inFlight("a", b2); got != nil {
		t.Errorf("finished batch reported in flight")
	}
	// Growing past the limit prunes the finished batch's ids.
	g.add("d", b2)
	g.add("e", b2)
	if len(g.last) != 2 {
		t.Errorf("guard holds %d ids after pruning, want 2", len(g.last))
	}
}

func TestBatchBodyOf(t *testing.T) {
	b := newBatch(0)
	for _, d := range []string{`{"id":"a"}`, `{"id":"bb"}`, `{"id":"ccc"}`, `{"id":"d"}`} {
		b.body = append(append(b.body, d...), '\n')
		b.ends = append(b.ends, len(b.body))
	}
	tests := []struct {
		idx  []int
		want string
	}{
		{[]int{0, 1, 2, 3}, "{\"id\":\"a\"}\n{\"id\":\"bb\"}\n{\"id\":\"ccc\"}\n{\"id\":\"d\"}\n"},
		{[]int{1, 2}, "{\"id\":\"bb\"}\n{\"id\":\"ccc\"}\n"},
		{[]int{3}, "{\"id\":\"d\"}\n"},
		{[]int{0, 2}, "{\"id\":\"a\"}\n{\"id\":\"ccc\"}\n"},
	}
	for _, tt := range tests {
		if got := string(b.bodyOf(tt.idx)); got != tt.want {
			t.Errorf("bodyOf(%v) = %q, want %q", tt.idx, got, tt.want)
		}
	}
}
