package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestGlobalStatsBinary: statistics survive the binary form and the JSON
// form alike, equal statistics encode to equal bytes, and bad input is
// refused.
func TestGlobalStatsBinary(t *testing.T) {
	tests := []struct {
		name string
		st   GlobalStats
	}{
		{"empty", GlobalStats{Fields: map[string]int{}, Terms: map[string]map[string]uint64{}}},
		{"doc count only", GlobalStats{DocCount: 126240, Fields: map[string]int{}, Terms: map[string]map[string]uint64{}}},
		{"fields and terms", GlobalStats{DocCount: 1 << 40, Fields: map[string]int{"_all": 109957, "title": 0, "ünï": 3},
			Terms: map[string]map[string]uint64{"_all": {"apple": 12, "": 1, "a\x00b": 1 << 33}, "title": {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.st.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := tt.st.AppendBinary(nil)
			if !bytes.Equal(b, again) {
				t.Fatal("the same statistics encode to different bytes")
			}
			got, err := DecodeGlobalStats(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.st) {
				t.Fatalf("binary round trip: got %+v, want %+v", *got, tt.st)
			}
			js, _ := json.Marshal(tt.st)
			got, err = DecodeGlobalStats(js)
			if err != nil {
				t.Fatal(err)
			}
			if got.DocCount != tt.st.DocCount || len(got.Fields) != len(tt.st.Fields) {
				t.Fatalf("JSON: got %+v, want %+v", *got, tt.st)
			}
			for n := 0; n < len(b); n++ {
				if _, err := DecodeGlobalStats(b[:n]); err == nil && n > 0 {
					t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
				}
			}
			if _, err := DecodeGlobalStats(append(b, 0)); err == nil {
				t.Fatal("trailing byte: no error")
			}
		})
	}
	if _, err := (&GlobalStats{Fields: map[string]int{"f": -1}}).AppendBinary(nil); err == nil {
		t.Fatal("negative cardinality encoded")
	}
}

// FuzzDecodeGlobalStats: arbitrary bytes decode cleanly or fail, and what
// decodes encodes back to statistics that decode the same.
func FuzzDecodeGlobalStats(f *testing.F) {
	st := GlobalStats{DocCount: 9, Fields: map[string]int{"_all": 4}, Terms: map[string]map[string]uint64{"_all": {"a": 1, "b": 2}}}
	b, _ := st.AppendBinary(nil)
	f.Add(b)
	js, _ := json.Marshal(st)
	f.Add(js)
	f.Add([]byte{statsVersion})
	f.Add([]byte{statsVersion, 0, 1, 1, 'f', 0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != statsVersion {
			return // JSON is encoding/json's to fuzz
		}
		got, err := DecodeGlobalStats(data)
		if err != nil {
			return
		}
		again, err := got.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded statistics do not encode: %v", err)
		}
		got2, err := DecodeGlobalStats(again)
		if err != nil {
			t.Fatalf("re-encoded statistics do not decode: %v", err)
		}
		if !reflect.DeepEqual(got, got2) {
			t.Fatalf("round trip changed the statistics: %+v, then %+v", got, got2)
		}
	})
}
