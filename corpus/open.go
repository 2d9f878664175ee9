package corpus

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// StdinPath is the path that denotes standard input to [Open] and
// [OpenFile].
const StdinPath = "-"

const (
	// gzipMagic is the two-byte signature every gzip stream starts with.
	gzipMagic = "\x1f\x8b"
	// readBufferSize is the buffer size used for reading corpus files.
	readBufferSize = 64 << 10
)

// File is an open corpus file as returned by [OpenFile]. Reads yield the
// decompressed content; [File.Offset] and [File.Size] describe the underlying
// (possibly compressed) file so that a loader can show progress and an ETA
// without knowing whether the input was compressed.
type File struct {
	r          io.Reader    // decompressed content
	f          *os.File     // underlying file
	counter    *countReader // counts bytes read from f
	zr         *gzip.Reader // non-nil for gzip input
	size       int64        // size of f, or -1 if unknown
	closeFile  bool         // false for standard input
	compressed bool
}

// Open opens the corpus file at path for reading. The path "-" denotes
// standard input, which is not closed when the returned reader is closed.
// If the content starts with the gzip magic bytes it is transparently
// decompressed, whatever the file's name.
//
// The concrete type of the result is *[File]; use [OpenFile] to get it
// without a type assertion.
func Open(path string) (io.ReadCloser, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenFile is like [Open] but returns the concrete *[File], which also
// reports the progress through the underlying file.
func OpenFile(path string) (*File, error) {
	var (
		f         *os.File
		closeFile bool
	)
	if path == StdinPath {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("corpus: open: %w", err)
		}
		closeFile = true
	}
	cf := &File{f: f, closeFile: closeFile, size: statSize(f)}
	cf.counter = &countReader{r: f}
	br := bufio.NewReaderSize(cf.counter, readBufferSize)
	cf.r = br
	gz, err := isGzip(br)
	if err != nil {
		cf.Close()
		return nil, fmt.Errorf("corpus: open %s: %w", path, err)
	}
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			cf.Close()
			return nil, fmt.Errorf("corpus: open %s: gzip: %w", path, err)
		}
		cf.zr, cf.r, cf.compressed = zr, zr, true
	}
	return cf, nil
}

// Read reads decompressed corpus content.
func (f *File) Read(p []byte) (int, error) { return f.r.Read(p) }

// Close releases the file. Standard input is left open. For gzip input,
// Close also reports a checksum mismatch if the stream was read to the end.
func (f *File) Close() error {
	var errs []error
	if f.zr != nil {
		errs = append(errs, f.zr.Close())
	}
	if f.closeFile {
		errs = append(errs, f.f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("corpus: close: %w", err)
	}
	return nil
}

// Compressed reports whether the content is being gunzipped.
func (f *File) Compressed() bool { return f.compressed }

// Offset returns how many bytes of the underlying file have been read so far
// (compressed bytes for gzip input; read-ahead buffering makes it run
// slightly ahead of the content returned by Read). Together with
// [File.Size] it gives the fraction of the input processed. Offset may be
// called concurrently with Read, for example from a progress reporter.
func (f *File) Offset() int64 { return f.counter.n.Load() }

// Size returns the size in bytes of the underlying file as stored on disk
// (the compressed size for gzip input), or -1 if it is not a regular file,
// as is usually the case for standard input.
func (f *File) Size() int64 { return f.size }

// Size returns the size in bytes of the corpus file at path as stored on
// disk. For gzip-compressed files this is the compressed size, so compare it
// with [File.Offset] rather than with [Reader.BytesRead] when estimating
// progress. For "-" (standard input) and other non-regular files it returns
// -1 and a nil error.
func Size(path string) (int64, error) {
	if path == StdinPath {
		return -1, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("corpus: size: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return -1, nil
	}
	return fi.Size(), nil
}

// statSize returns the size of f if it is a regular file, else -1.
func statSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// isGzip reports whether br's content starts with the gzip magic bytes,
// without consuming anything.
func isGzip(br *bufio.Reader) (bool, error) {
	head, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return string(head) == gzipMagic, nil
}

// countReader counts the bytes read through it; the count may be read
// concurrently.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
