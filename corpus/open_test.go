package corpus

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	const content = "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(content))
	zw.Close()

	dir := t.TempDir()
	tests := []struct {
		name       string
		data       []byte
		compressed bool
	}{
		{"plain.jsonl", []byte(content), false},
		{"plain.jsonl.gz", []byte(content), false}, // extension alone does not decide
		{"disguised.jsonl", gz.Bytes(), true},      // neither does its absence
		{"empty.jsonl", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			size, err := Size(path)
			if err != nil || size != int64(len(tt.data)) {
				t.Fatalf("Size = %d, %v; want %d", size, err, len(tt.data))
			}
			rc, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			f := rc.(*File)
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			want := content
			if tt.data == nil {
				want = ""
			}
			if string(got) != want {
				t.Errorf("content = %q, want %q", got, want)
			}
			if f.Compressed() != tt.compressed {
				t.Errorf("Compressed = %t, want %t", f.Compressed(), tt.compressed)
			}
			if f.Size() != size || f.Offset() != size {
				t.Errorf("Size, Offset = %d, %d; want both %d", f.Size(), f.Offset(), size)
			}
			if err := f.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	if _, err := Open(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) error = %v, want not-exist", err)
	}
	if _, err := Size(missing); err == nil {
		t.Error("Size(missing) succeeded")
	}
	if n, err := Size("-"); n != -1 || err != nil {
		t.Errorf(`Size("-") = %d, %v; want -1, nil`, n, err)
	}
}

func TestOpenStdinIsNotClosed(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	saved := os.Stdin
	os.Stdin = pr
	t.Cleanup(func() { os.Stdin = saved })

	go func() {
		pw.Write([]byte("{\"id\":\"stdin\"}\n"))
		pw.Close()
	}()
	f, err := OpenFile("-")
	if err != nil {
		t.Fatal(err)
	}
	docs := readAll(t, NewReader(f, ReaderOptions{}))
	if len(docs) != 1 || docs[0].ID != "stdin" {
		t.Errorf("docs = %+v", docs)
	}
	if f.Size() != -1 {
		t.Errorf("Size of a pipe = %d, want -1", f.Size())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Stat(); err != nil {
		t.Errorf("stdin was closed: %v", err)
	}
}
