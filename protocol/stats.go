package protocol

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// statsVersion is the first byte of GlobalStats in binary form. No JSON
// text starts with it, so DecodeGlobalStats tells the two forms apart.
const statsVersion = 1

// AppendBinary appends the binary form of s to b: the document count; the
// fields' cardinalities; then per field its terms, each with its document
// frequency. Fields and terms are sorted, so equal statistics encode to
// equal bytes (a node caches decoded statistics by their encoding).
func (s *GlobalStats) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, statsVersion)
	b = binary.AppendUvarint(b, s.DocCount)
	b = binary.AppendUvarint(b, uint64(len(s.Fields)))
	for _, f := range sortedKeys(s.Fields) {
		c := s.Fields[f]
		if c < 0 {
			return nil, fmt.Errorf("statistics: field %q has cardinality %d", f, c)
		}
		b = appendString(b, f)
		b = binary.AppendUvarint(b, uint64(c))
	}
	b = binary.AppendUvarint(b, uint64(len(s.Terms)))
	for _, f := range sortedKeys(s.Terms) {
		terms := s.Terms[f]
		b = appendString(b, f)
		b = binary.AppendUvarint(b, uint64(len(terms)))
		for _, t := range sortedKeys(terms) {
			b = appendString(b, t)
			b = binary.AppendUvarint(b, terms[t])
		}
	}
	return b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mapHint bounds the room a decoded map is given up front: its count comes
// from the message, and a hostile one would have small messages reserve
// large maps. Real statistics fill their maps past it by growing.
const mapHint = 64

// UnmarshalBinary decodes statistics in binary form (AppendBinary). The
// strings it holds share one copy of data.
func (s *GlobalStats) UnmarshalBinary(data []byte) error {
	d := wireDecoder{s: string(data)}
	if v := d.byte(); v != statsVersion {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("statistics: unknown version %d", v)
	}
	s.DocCount = d.uvarint()
	n := d.count(2)
	s.Fields = make(map[string]int, min(n, mapHint))
	for i := 0; i < n && d.err == nil; i++ {
		f := d.string()
		c := d.uvarint()
		if c > math.MaxInt32 {
			d.fail()
		}
		s.Fields[f] = int(c)
	}
	n = d.count(2)
	s.Terms = make(map[string]map[string]uint64, min(n, mapHint))
	for i := 0; i < n && d.err == nil; i++ {
		f := d.string()
		k := d.count(2)
		terms := make(map[string]uint64, min(k, mapHint))
		for j := 0; j < k && d.err == nil; j++ {
			t := d.string()
			terms[t] = d.uvarint()
		}
		s.Terms[f] = terms
	}
	if d.err != nil {
		return fmt.Errorf("statistics: %w", d.err)
	}
	if len(d.s) > 0 {
		return fmt.Errorf("statistics: %d bytes after the end", len(d.s))
	}
	return nil
}

// DecodeGlobalStats decodes statistics in either form: binary
// (AppendBinary, what coordinators send) or JSON (what earlier ones sent).
func DecodeGlobalStats(raw []byte) (*GlobalStats, error) {
	st := new(GlobalStats)
	if len(raw) > 0 && raw[0] == statsVersion {
		if err := st.UnmarshalBinary(raw); err != nil {
			return nil, err
		}
		return st, nil
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("statistics: %w", err)
	}
	return st, nil
}
