// Package token is Shoal's read-your-writes token: what a write answer
// hands back so that a later search (or get) can ask to see that write.
//
// A token names one incarnation of an index (its UID) and, for each shard
// written, the JetStream stream sequence of the write: a copy of the shard
// that has applied that sequence holds the write. Tokens combine by taking
// the highest sequence per shard, so a client keeps only the last one it
// got (and hands it to its next write, whose answer carries both).
//
// On the wire a token is opaque and URL-safe: base64url (no padding) of a
// version byte, the UID, and the (shard, sequence) pairs in shard order, as
// uvarints.
package token

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// MaxLen is the longest encoded token Parse accepts.
const MaxLen = 16 << 10

// version is the first byte of an encoded token.
const version = 1

// maxUID bounds the UID a token may carry.
const maxUID = 64

// Token is a set of writes to one incarnation of an index: for each shard,
// the highest stream sequence written there.
type Token struct {
	// UID is the index incarnation the sequences belong to.
	UID string
	// Seqs maps a shard to the stream sequence its copies must have
	// applied.
	Seqs map[int]uint64
}

// IsZero reports whether t names no index.
func (t Token) IsZero() bool { return t.UID == "" }

// ErrMismatch is returned by Merge for tokens of different incarnations.
var ErrMismatch = errors.New("tokens of different indexes")

// Merge returns the token that covers both a and b: the highest sequence
// of each shard. A zero token merges into anything; tokens of two UIDs do
// not merge.
func Merge(a, b Token) (Token, error) {
	switch {
	case a.IsZero():
		return b.clone(), nil
	case b.IsZero():
		return a.clone(), nil
	case a.UID != b.UID:
		return Token{}, fmt.Errorf("%w: %s and %s", ErrMismatch, a.UID, b.UID)
	}
	out := a.clone()
	for s, seq := range b.Seqs {
		if seq > out.Seqs[s] {
			out.Seqs[s] = seq
		}
	}
	return out, nil
}

func (t Token) clone() Token {
	out := Token{UID: t.UID, Seqs: make(map[int]uint64, len(t.Seqs))}
	for s, seq := range t.Seqs {
		out.Seqs[s] = seq
	}
	return out
}

// String encodes t; the zero token is "".
func (t Token) String() string {
	if t.IsZero() {
		return ""
	}
	shards := make([]int, 0, len(t.Seqs))
	for s, seq := range t.Seqs {
		if s >= 0 && seq > 0 {
			shards = append(shards, s)
		}
	}
	slices.Sort(shards)
	b := make([]byte, 0, 2+len(t.UID)+4*len(shards))
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(len(t.UID)))
	b = append(b, t.UID...)
	b = binary.AppendUvarint(b, uint64(len(shards)))
	prev := -1
	for _, s := range shards {
		b = binary.AppendUvarint(b, uint64(s-prev-1)) // shards ascend: store the gap
		b = binary.AppendUvarint(b, t.Seqs[s])
		prev = s
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Parse decodes a token made by String. It refuses anything else with an
// error that says what is wrong.
func Parse(s string) (Token, error) {
	if s == "" {
		return Token{}, errors.New("empty token")
	}
	if len(s) > MaxLen {
		return Token{}, fmt.Errorf("token longer than %d characters", MaxLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Token{}, errors.New("token is not base64url: it must be copied unchanged from a write's answer")
	}
	d := decoder{b: raw}
	if v := d.uvarint(); d.err == nil && v != version {
		return Token{}, fmt.Errorf("token of unknown version %d", v)
	}
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > maxUID || n > uint64(len(d.b))) {
		return Token{}, errors.New("token: bad index identity")
	}
	t := Token{UID: string(d.take(int(n)))}
	count := d.uvarint()
	if d.err == nil && count > uint64(len(d.b)/2) {
		return Token{}, errors.New("token: more shards than it holds")
	}
	t.Seqs = make(map[int]uint64, count)
	shard := -1
	for i := uint64(0); i < count && d.err == nil; i++ {
		gap, seq := d.uvarint(), d.uvarint()
		if d.err != nil {
			break
		}
		if gap > 1<<20 || seq == 0 {
			return Token{}, errors.New("token: bad shard entry")
		}
		shard += int(gap) + 1
		if shard > 1<<20 {
			return Token{}, errors.New("token: shard out of range")
		}
		t.Seqs[shard] = seq
	}
	if d.err != nil {
		return Token{}, d.err
	}
	if len(d.b) > 0 {
		return Token{}, fmt.Errorf("token: %d bytes after the end", len(d.b))
	}
	return t, nil
}

// decoder reads a token's bytes; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("token is truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.err = errShort
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}
