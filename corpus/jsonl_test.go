package corpus

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll drains r, failing the test on an I/O error.
func readAll(t testing.TB, r *Reader) []Doc {
	t.Helper()
	var docs []Doc
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("Next: unexpected error after %d docs: %v", len(docs), err)
		}
		docs = append(docs, d)
	}
}

func TestReader(t *testing.T) {
	long := `{"id":"x","t":"` + strings.Repeat("a", 100) + `"}`
	tests := []struct {
		name  string
		in    string
		opts  ReaderOptions
		want  []Doc // Body compared as a string; Err compared with errors.Is
		total int64
	}{
		{
			name: "empty input",
			in:   "",
		},
		{
			name: "simple",
			in:   `{"id":"a","x":1}` + "\n" + `{"id":"b"}` + "\n",
			want: []Doc{
				{Line: 1, ID: "a", Body: json.RawMessage(`{"id":"a","x":1}`), Bytes: 17},
				{Line: 2, ID: "b", Body: json.RawMessage(`{"id":"b"}`), Bytes: 11},
			},
		},
		{
			name: "no final newline, CRLF, surrounding space",
			in:   " {\"id\":\"a\"} \r\n{\"id\":\"b\"}",
			want: []Doc{
				{Line: 1, ID: "a", Body: json.RawMessage(`{"id":"a"}`), Bytes: 14},
				{Line: 2, ID: "b", Body: json.RawMessage(`{"id":"b"}`), Bytes: 10},
			},
		},
		{
			name: "blank lines are skipped but counted",
			in:   "\n  \n{\"id\":\"a\"}\n\n\t\n{\"id\":\"b\"}\n\n",
			want: []Doc{
				{Line: 3, ID: "a", Body: json.RawMessage(`{"id":"a"}`), Bytes: 15},
				{Line: 6, ID: "b", Body: json.RawMessage(`{"id":"b"}`), Bytes: 14},
			},
		},
		{
			name: "byte order mark",
			in:   utf8BOM + `{"id":"a"}`,
			want: []Doc{{Line: 1, ID: "a", Body: json.RawMessage(`{"id":"a"}`), Bytes: 13}},
		},
		{
			name: "bad lines do not stop the reader",
			in: strings.Join([]string{
				`{"id":"a"`,            // 1 truncated
				`[1,2]`,                // 2 array
				`"str"`,                // 3 string
				`null`,                 // 4 null
				`{"x":1}`,              // 5 no id
				`{"id":""}`,            // 6 empty id
				`{"id":null}`,          // 7 null id
				`{"id":true}`,          // 8 bool id
				`{"id":1.5}`,           // 9 fractional id
				`{"id":{"a":1}}`,       // 10 object id
				`{"id":"ok"} trailing`, // 11 trailing garbage
				`{"id":"good"}`,        // 12
				`nonsense`,             // 13
				`{"ID":"wrong case"}`,  // 14
				`{"id":"` + strings.Repeat("z", MaxIDBytes+1) + `"}`, // 15
			}, "\n"),
			want: []Doc{
				{Line: 1, Err: ErrInvalidJSON},
				{Line: 2, Err: ErrNotObject},
				{Line: 3, Err: ErrNotObject},
				{Line: 4, Err: ErrNotObject},
				{Line: 5, Err: ErrMissingID},
				{Line: 6, Err: ErrMissingID},
				{Line: 7, Err: ErrMissingID},
				{Line: 8, Err: ErrBadID},
				{Line: 9, Err: ErrBadID},
				{Line: 10, Err: ErrBadID},
				{Line: 11, Err: ErrInvalidJSON},
				{Line: 12, ID: "good", Body: json.RawMessage(`{"id":"good"}`)},
				{Line: 13, Err: ErrInvalidJSON},
				{Line: 14, Err: ErrMissingID},
				{Line: 15, Err: ErrBadID},
			},
		},
		{
			name: "id of exactly MaxIDBytes",
			in:   `{"id":"` + strings.Repeat("z", MaxIDBytes) + `"}`,
			want: []Doc{{Line: 1, ID: strings.Repeat("z", MaxIDBytes),
				Body: json.RawMessage(`{"id":"` + strings.Repeat("z", MaxIDBytes) + `"}`)}},
		},
		{
			name: "integer ids become strings",
			in:   `{"n":"x","id":42}` + "\n" + `{"id":-7}`,
			want: []Doc{
				{Line: 1, ID: "42", Body: json.RawMessage(`{"id":"42","n":"x"}`)},
				{Line: 2, ID: "-7", Body: json.RawMessage(`{"id":"-7"}`)},
			},
		},
		{
			name: "custom id field is copied to id",
			in:   `{"key":"k1","id":"old","v":"<b>"}` + "\n" + `{"key":9}` + "\n" + `{"id":"x"}`,
			opts: ReaderOptions{IDField: "key"},
			want: []Doc{
				{Line: 1, ID: "k1", Body: json.RawMessage(`{"id":"k1","key":"k1","v":"<b>"}`)},
				{Line: 2, ID: "9", Body: json.RawMessage(`{"id":"9","key":9}`)},
				{Line: 3, Err: ErrMissingID},
			},
		},
		{
			name: "escaped ids",
			in:   `{"id":"a\"b\u00e9\n"}`,
			want: []Doc{{Line: 1, ID: "a\"bé\n", Body: json.RawMessage(`{"id":"a\"b\u00e9\n"}`)}},
		},
		{
			name: "line too long is skipped",
			in:   long + "\n" + `{"id":"short"}` + "\n" + long,
			opts: ReaderOptions{MaxLineBytes: 50},
			want: []Doc{
				{Line: 1, Err: ErrLineTooLong, Bytes: len(long) + 1},
				{Line: 2, ID: "short", Body: json.RawMessage(`{"id":"short"}`)},
				{Line: 3, Err: ErrLineTooLong, Bytes: len(long)},
			},
		},
		{
			name: "line limit excludes the terminator",
			in:   `{"id":"abc"}` + "\r\n",
			opts: ReaderOptions{MaxLineBytes: len(`{"id":"abc"}`)},
			want: []Doc{{Line: 1, ID: "abc", Body: json.RawMessage(`{"id":"abc"}`)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), tt.opts)
			got := readAll(t, r)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d docs, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, g := range got {
				w := tt.want[i]
				if g.Line != w.Line || g.ID != w.ID || string(g.Body) != string(w.Body) {
					t.Errorf("doc %d = {Line:%d ID:%q Body:%s}, want {Line:%d ID:%q Body:%s}",
						i, g.Line, g.ID, g.Body, w.Line, w.ID, w.Body)
				}
				if w.Bytes != 0 && g.Bytes != w.Bytes {
					t.Errorf("doc %d: Bytes = %d, want %d", i, g.Bytes, w.Bytes)
				}
				switch {
				case w.Err == nil && g.Err != nil:
					t.Errorf("doc %d: unexpected Err %v", i, g.Err)
				case w.Err != nil && !errors.Is(g.Err, w.Err):
					t.Errorf("doc %d: Err = %v, want %v", i, g.Err, w.Err)
				}
			}
			if got := r.BytesRead(); got != int64(len(tt.in)) {
				t.Errorf("BytesRead = %d, want %d", got, len(tt.in))
			}
			if _, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("Next after EOF = %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderLongLinesAcrossBuffers(t *testing.T) {
	// Lines longer than the internal buffer exercise the multi-chunk path.
	big := `{"id":"big","pad":"` + strings.Repeat("p", 3*readBufferSize) + `"}`
	in := big + "\n" + big + "x\n" + `{"id":"after"}`
	r := NewReader(iotest.HalfReader(strings.NewReader(in)), ReaderOptions{MaxLineBytes: len(big)})
	docs := readAll(t, r)
	if len(docs) != 3 {
		t.Fatalf("got %d docs, want 3", len(docs))
	}
	if docs[0].Err != nil || docs[0].ID != "big" || string(docs[0].Body) != big {
		t.Errorf("doc 1: ID %q Err %v, body intact %t", docs[0].ID, docs[0].Err, string(docs[0].Body) == big)
	}
	if !errors.Is(docs[1].Err, ErrLineTooLong) || docs[1].Line != 2 || docs[1].Bytes != len(big)+2 {
		t.Errorf("doc 2 = Line %d Bytes %d Err %v, want line 2, %d bytes, ErrLineTooLong", docs[1].Line, docs[1].Bytes, docs[1].Err, len(big)+2)
	}
	if docs[2].ID != "after" || docs[2].Line != 3 {
		t.Errorf("doc 3 = %+v, want id after on line 3", docs[2])
	}
}

func TestReaderBodyDoesNotAlias(t *testing.T) {
	r := NewReader(strings.NewReader("{\"id\":\"a\"}\n{\"id\":\"b\"}\n"), ReaderOptions{})
	first, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if string(first.Body) != `{"id":"a"}` {
		t.Errorf("first body changed to %s", first.Body)
	}
}

func TestReaderGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n")
	zw.Close()
	docs := readAll(t, NewReader(&buf, ReaderOptions{}))
	if len(docs) != 2 || docs[0].ID != "a" || docs[1].ID != "b" || docs[1].Line != 3 {
		t.Fatalf("got %+v", docs)
	}
}

func TestReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	in := io.MultiReader(strings.NewReader("{\"id\":\"a\"}\n{\"id\":"), iotest.ErrReader(boom))
	r := NewReader(in, ReaderOptions{})
	if d, err := r.Next(); err != nil || d.ID != "a" {
		t.Fatalf("first Next = %+v, %v", d, err)
	}
	for range 2 { // the error is sticky
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want wrapped boom", err)
		}
	}

	// A corrupt gzip stream is an I/O error too.
	bad := append([]byte(gzipMagic), "not really gzip"...)
	if _, err := NewReader(bytes.NewReader(bad), ReaderOptions{}).Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("corrupt gzip: Next error = %v, want a gzip error", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"id\":\"a\"}\n\n{\"id\":1}\r\n[1]\n{\"x\":2}\n"), uint16(0), false)
	f.Add([]byte("{\"key\":\"k\",\"id\":\"i\"}\n{\"key\":null}"), uint16(0), true)
	f.Add([]byte(utf8BOM+"{\"id\":\"a\",\"id\":\"b\"}\n{\"id\":\"\\ud800\"}"), uint16(0), false)
	f.Add([]byte("{\"id\":\"aaaaaaaaaaaa\"}\n{\"id\":\"b\"}\n"), uint16(12), false)
	f.Add([]byte("\n\n\n{"), uint16(1), false)
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, altID bool) {
		opts := ReaderOptions{MaxLineBytes: int(maxLine)}
		if altID {
			opts.IDField = "key"
		}
		isGz := bytes.HasPrefix(data, []byte(gzipMagic))
		r := NewReader(bytes.NewReader(data), opts)
		prevLine, sum := 0, 0
		for {
			d, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if isGz {
					return // corrupt compressed input is an I/O error
				}
				t.Fatalf("unexpected I/O error on plain input: %v", err)
			}
			if d.Line <= prevLine {
				t.Fatalf("line numbers not increasing: %d after %d", d.Line, prevLine)
			}
			prevLine = d.Line
			sum += d.Bytes
			if d.Bytes <= 0 {
				t.Fatalf("line %d: Bytes = %d", d.Line, d.Bytes)
			}
			if d.Err != nil {
				if d.ID != "" || d.Body != nil {
					t.Fatalf("line %d: Err %v with ID %q, Body %s", d.Line, d.Err, d.ID, d.Body)
				}
				continue
			}
			if d.ID == "" || len(d.ID) > MaxIDBytes {
				t.Fatalf("line %d: bad ID %q accepted", d.Line, d.ID)
			}
			var obj map[string]any
			if err := json.Unmarshal(d.Body, &obj); err != nil {
				t.Fatalf("line %d: Body %q is not a JSON object: %v", d.Line, d.Body, err)
			}
			if id, ok := obj["id"].(string); !ok || id != d.ID {
				t.Fatalf("line %d: Body id %#v, want %q", d.Line, obj["id"], d.ID)
			}
		}
		if isGz {
			return
		}
		if got := r.BytesRead(); got != int64(len(data)) {
			t.Fatalf("BytesRead = %d, want %d", got, len(data))
		}
		if sum > len(data) {
			t.Fatalf("sum of Bytes %d exceeds input size %d", sum, len(data))
		}
		if maxLines := bytes.Count(data, []byte("\n")) + 1; prevLine > maxLines {
			t.Fatalf("last line %d beyond %d lines", prevLine, maxLines)
		}
	})
}
