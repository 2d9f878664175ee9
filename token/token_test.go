package token

import (
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []Token{
		{UID: "a1b2c3d4e5f60718", Seqs: map[int]uint64{}},
		{UID: "a1b2c3d4e5f60718", Seqs: map[int]uint64{0: 1}},
		{UID: "u", Seqs: map[int]uint64{3: 57, 0: 12, 1023: 1 << 40, 7: 1}},
	}
	for _, tok := range tests {
		s := tok.String()
		if strings.ContainsAny(s, "+/=?&# ") {
			t.Errorf("%+v encodes to %q, which is not URL-safe", tok, s)
		}
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) of %+v: %v", s, tok, err)
		}
		if got.UID != tok.UID || !maps.Equal(got.Seqs, tok.Seqs) {
			t.Errorf("round trip of %+v gave %+v", tok, got)
		}
	}
	if s := (Token{}).String(); s != "" {
		t.Errorf("zero token encodes to %q", s)
	}
}

func TestMerge(t *testing.T) {
	a := Token{UID: "x", Seqs: map[int]uint64{0: 5, 1: 9}}
	b := Token{UID: "x", Seqs: map[int]uint64{1: 4, 2: 7}}
	tests := []struct {
		name string
		a, b Token
		want map[int]uint64
		err  error
	}{
		{"highest per shard", a, b, map[int]uint64{0: 5, 1: 9, 2: 7}, nil},
		{"either order", b, a, map[int]uint64{0: 5, 1: 9, 2: 7}, nil},
		{"zero left", Token{}, b, b.Seqs, nil},
		{"zero right", a, Token{}, a.Seqs, nil},
		{"other incarnation", a, Token{UID: "y", Seqs: map[int]uint64{0: 1}}, nil, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge(tt.a, tt.b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && !maps.Equal(got.Seqs, tt.want) {
				t.Errorf("merged %v, want %v", got.Seqs, tt.want)
			}
		})
	}
	// Merging never changes its arguments.
	if a.Seqs[1] != 9 || len(a.Seqs) != 2 || b.Seqs[1] != 4 {
		t.Errorf("merge changed its arguments: %v %v", a.Seqs, b.Seqs)
	}
}

func TestParseRefuses(t *testing.T) {
	enc := func(b ...byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	good := Token{UID: "ab", Seqs: map[int]uint64{2: 300}}.String()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"not base64url", "ab+/", "base64url"},
		{"padded", good + "=", "base64url"},
		{"unknown version", enc(2, 1, 'a', 0), "version"},
		{"truncated uid", enc(1, 5, 'a'), "identity"},
		{"no uid", enc(1, 0, 0), "identity"},
		{"count beyond the data", enc(1, 1, 'a', 9, 0, 1), "more shards"},
		{"zero sequence", enc(1, 1, 'a', 1, 0, 0), "bad shard entry"},
		{"truncated entry", enc(1, 1, 'a', 1, 0, 0x80), "truncated"},
		{"trailing bytes", enc(1, 1, 'a', 0, 7), "after the end"},
		{"too long", strings.Repeat("A", MaxLen+1), "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q): %v, want an error about %q", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, and that what it accepts
// encodes back to a token that parses to the same thing.
func FuzzParse(f *testing.F) {
	f.Add("")
	f.Add(Token{UID: "a1b2c3d4e5f60718", Seqs: map[int]uint64{0: 12, 5: 99}}.String())
	f.Add(Token{UID: "u", Seqs: map[int]uint64{}}.String())
	f.Add("AQFhAQAB")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(tok.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose encoding %q does not parse: %v", s, tok, tok.String(), err)
		}
		if again.UID != tok.UID || !maps.Equal(again.Seqs, tok.Seqs) {
			t.Fatalf("%q: %+v, then %+v", s, tok, again)
		}
	})
}
