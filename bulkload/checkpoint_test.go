package bulkload

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "load.checkpoint")
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	keys := []FileKey{
		{Path: "/data/a.jsonl", Size: 100, ModTime: mtime},
		{Path: "/data/b.jsonl.gz", Size: 7, ModTime: mtime.Add(time.Hour)},
		{Path: "-"},
	}
	lines := [][]uint32{{1, 2, 3, 10, 1 << 20}, nil, {5}}

	c := NewCheckpoint("books")
	for i, k := range keys {
		bm, err := c.Lines(k)
		if err != nil {
			t.Fatal(err)
		}
		bm.AddMany(lines[i])
	}
	// A big contiguous range, to exercise run containers.
	bm, _ := c.Lines(keys[1])
	bm.AddRange(1, 200_001)
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	// Save again over the first: still one file, no temporary left.
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the checkpoint", len(entries))
	}

	got, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index() != "books" {
		t.Errorf("Index = %q", got.Index())
	}
	for i, k := range keys {
		bm, err := got.Lines(k)
		if err != nil {
			t.Fatalf("Lines(%v): %v", k, err)
		}
		want, _ := c.Lines(k)
		if !bm.Equals(want) {
			t.Errorf("file %d: lines %v, want %v", i, bm, want)
		}
	}
}

func TestCheckpointLinesFileChanged(t *testing.T) {
	mtime := time.Unix(1_700_000_000, 0)
	base := FileKey{Path: "/d/a.jsonl", Size: 10, ModTime: mtime}
	tests := []struct {
		name    string
		key     FileKey
		changed bool
	}{
		{"same", base, false},
		{"same instant other zone", FileKey{Path: base.Path, Size: 10, ModTime: mtime.In(time.FixedZone("x", 3600))}, false},
		{"other size", FileKey{Path: base.Path, Size: 11, ModTime: mtime}, true},
		{"other mtime", FileKey{Path: base.Path, Size: 10, ModTime: mtime.Add(time.Nanosecond)}, true},
		{"other file", FileKey{Path: "/d/b.jsonl", Size: 1, ModTime: mtime}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCheckpoint("i")
			bm, _ := c.Lines(base)
			bm.Add(3)
			_, err := c.Lines(tt.key)
			var fc *FileChangedError
			if got := errors.As(err, &fc); got != tt.changed {
				t.Fatalf("Lines err = %v, want changed=%v", err, tt.changed)
			}
			if tt.changed {
				if !errors.Is(err, ErrCheckpointMismatch) {
					t.Error("FileChangedError does not match ErrCheckpointMismatch")
				}
				if fc.Recorded != base || fc.Current != tt.key {
					t.Errorf("error keys %+v %+v", fc.Recorded, fc.Current)
				}
			}
		})
	}
}

func TestReadCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		path     string
		notExist bool
	}{
		{"missing", filepath.Join(dir, "nope"), true},
		{"not json", write("a", "garbage"), false},
		{"wrong version", write("b", `{"version":99,"index":"i","files":[]}`), false},
		{"bad bitmap", write("c", `{"version":1,"index":"i","files":[{"path":"/x","size":1,"done":"AAAA"}]}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCheckpoint(tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v", err, got)
			}
		})
	}
}

func TestCheckpointSaveUnwritable(t *testing.T) {
	c := NewCheckpoint("i")
	err := c.Save(filepath.Join(t.TempDir(), "no", "such", "dir", "x.checkpoint"))
	if err == nil {
		t.Fatal("saved into a missing directory")
	}
}

func TestStatFileKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.jsonl")
	if err := os.WriteFile(p, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	k, err := StatFileKey("f.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(k.Path) || filepath.Base(k.Path) != "f.jsonl" || k.Size != 3 || k.ModTime.IsZero() {
		t.Errorf("key = %+v", k)
	}
	if k, err := StatFileKey("-"); err != nil || k != (FileKey{Path: "-"}) {
		t.Errorf("stdin key = %+v, %v", k, err)
	}
	if _, err := StatFileKey("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
