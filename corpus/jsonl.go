package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Defaults and limits of [Reader].
const (
	// DefaultIDField is the field holding a document's id when
	// [ReaderOptions.IDField] is empty.
	DefaultIDField = "id"
	// DefaultMaxLineBytes is the line length limit used when
	// [ReaderOptions.MaxLineBytes] is zero or negative.
	DefaultMaxLineBytes = 8 << 20
	// MaxIDBytes is the longest document id, in bytes, that [Reader] accepts.
	MaxIDBytes = 512
)

// Per-line problems reported in [Doc.Err]. The errors carry details and
// wrap one of these, so test for them with [errors.Is].
var (
	// ErrInvalidJSON means the line is not valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrNotObject means the line is valid JSON but not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrMissingID means the id field is absent, null or the empty string.
	ErrMissingID = errors.New("missing id")
	// ErrBadID means the id is neither a string nor an integer, or is
	// longer than MaxIDBytes.
	ErrBadID = errors.New("bad id")
	// ErrLineTooLong means the line exceeds ReaderOptions.MaxLineBytes.
	ErrLineTooLong = errors.New("line too long")
)

// utf8BOM is skipped at the start of the input.
const utf8BOM = "\xef\xbb\xbf"

// ReaderOptions configures a [Reader]. The zero value is ready to use.
type ReaderOptions struct {
	// IDField names the top-level field that holds each document's id.
	// Empty means DefaultIDField ("id").
	IDField string
	// MaxLineBytes is the longest line accepted, excluding its line
	// terminator. Longer lines are skipped and reported with
	// ErrLineTooLong. Zero or negative means DefaultMaxLineBytes (8 MiB).
	MaxLineBytes int
}

// Doc is one non-blank line of a JSON Lines corpus.
type Doc struct {
	// Line is the 1-based line number in the (decompressed) input. Blank
	// lines are skipped but counted.
	Line int
	// ID is the document id, taken from the configured id field. Integer
	// ids are converted to their decimal string. Empty if Err is set.
	ID string
	// Body is the document as a JSON object whose "id" key holds ID as a
	// JSON string. When the input already had that, Body is the line
	// itself (minus surrounding white space); otherwise the object is
	// re-encoded with sorted keys and "id" added or overwritten. Nil if
	// Err is set. Body does not alias the reader's buffers.
	Body json.RawMessage
	// Bytes is the number of input bytes consumed for this document,
	// including its line terminator and any blank lines before it, so that
	// summing Bytes over all documents approximates [Reader.BytesRead].
	Bytes int
	// Err describes why the line could not be used as a document; it wraps
	// one of ErrInvalidJSON, ErrNotObject, ErrMissingID, ErrBadID or
	// ErrLineTooLong. A Doc with Err set is not fatal: the reader carries
	// on with the next line.
	Err error
}

// Reader reads documents from JSON Lines input, one object per line.
// Input that starts with the gzip magic bytes is decompressed, so both the
// output of [Open] and the raw bytes of [Sample] can be passed to
// [NewReader]. A Reader is not safe for concurrent use.
type Reader struct {
	src     io.Reader
	br      *bufio.Reader
	idField string
	maxLine int
	line    int
	read    int64
	err     error // sticky: io.EOF or an I/O error
}

// NewReader returns a Reader that reads documents from r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.IDField == "" {
		opts.IDField = DefaultIDField
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	return &Reader{src: r, idField: opts.IDField, maxLine: opts.MaxLineBytes}
}

// BytesRead returns the number of (decompressed) input bytes consumed so
// far, including blank lines and line terminators.
func (r *Reader) BytesRead() int64 { return r.read }

// Next returns the next document. Lines that are not usable documents are
// returned as a Doc with Err set and a nil error. At the end of the input
// Next returns io.EOF; any other error is an I/O (or decompression) error,
// after which the Reader is unusable and keeps returning that error.
func (r *Reader) Next() (Doc, error) {
	if r.err != nil {
		return Doc{}, r.err
	}
	if r.br == nil {
		if err := r.start(); err != nil {
			r.err = err
			return Doc{}, err
		}
	}
	consumed := 0
	for {
		line, n, tooLong, err := r.readLine()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("corpus: read line %d: %w", r.line+1, err)
			}
			r.err = err
			return Doc{}, err
		}
		r.line++
		r.read += int64(n)
		consumed += n
		if tooLong {
			return Doc{Line: r.line, Bytes: consumed,
				Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.maxLine)}, nil
		}
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte(utf8BOM))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		d := r.parse(line)
		d.Line, d.Bytes = r.line, consumed
		return d, nil
	}
}

// start sets up buffering, inserting a gzip decompressor if the input
// starts with the gzip magic bytes.
func (r *Reader) start() error {
	br := bufio.NewReaderSize(r.src, readBufferSize)
	gz, err := isGzip(br)
	if err != nil {
		return fmt.Errorf("corpus: read: %w", err)
	}
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("corpus: gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, readBufferSize)
	}
	r.br = br
	return nil
}

// readLine reads one line, returning its content without the line
// terminator, the number of bytes consumed, and whether it exceeded the
// limit (in which case line is nil and the rest of the line has been
// discarded). It returns io.EOF only when no bytes at all remain.
func (r *Reader) readLine() (line []byte, n int, tooLong bool, err error) {
	limit := r.maxLine + len("\r\n")
	for {
		chunk, rerr := r.br.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			if len(line)+len(chunk) > limit {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...) // copies: chunk aliases the buffer
			}
		}
		switch {
		case rerr == nil:
			// End of line.
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			if n == 0 {
				return nil, 0, false, io.EOF
			}
			// Final line without a terminator; the next call reports EOF.
		default:
			return nil, n, false, rerr
		}
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > r.maxLine {
		tooLong, line = true, nil
	}
	return line, n, tooLong, nil
}

// parse validates one trimmed, non-empty line and extracts its id.
func (r *Reader) parse(line []byte) Doc {
	if line[0] != '{' {
		if json.Valid(line) {
			return Doc{Err: fmt.Errorf("%w: found %s", ErrNotObject, jsonKind(line[0]))}
		}
		return Doc{Err: fmt.Errorf("%w: line does not start with '{'", ErrInvalidJSON)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return Doc{Err: fmt.Errorf("%w: %w", ErrInvalidJSON, err)}
	}
	raw, ok := fields[r.idField]
	if !ok {
		return Doc{Err: fmt.Errorf("%w: no %q field", ErrMissingID, r.idField)}
	}
	id, isString, err := parseID(raw)
	if err != nil {
		return Doc{Err: fmt.Errorf("field %q: %w", r.idField, err)}
	}
	if isString && r.idField == DefaultIDField {
		return Doc{ID: id, Body: line}
	}
	// Put the id, as a string, under "id" and re-encode.
	quoted, err := json.Marshal(id)
	if err != nil {
		return Doc{Err: fmt.Errorf("%w: %w", ErrBadID, err)}
	}
	fields[DefaultIDField] = quoted
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return Doc{Err: fmt.Errorf("%w: re-encode: %w", ErrInvalidJSON, err)}
	}
	return Doc{ID: id, Body: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
}

// parseID converts a raw JSON id value to a string. isString reports
// whether the value already was a JSON string.
func parseID(raw json.RawMessage) (id string, isString bool, err error) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false, fmt.Errorf("%w: id is null", ErrMissingID)
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", false, fmt.Errorf("%w: %w", ErrBadID, err)
		}
		isString = true
	case isInteger(raw):
		id = string(raw)
	default:
		return "", false, fmt.Errorf("%w: want a string or an integer, found %s", ErrBadID, jsonKind(raw[0]))
	}
	switch {
	case id == "":
		return "", false, fmt.Errorf("%w: id is empty", ErrMissingID)
	case len(id) > MaxIDBytes:
		return "", false, fmt.Errorf("%w: id is %d bytes, limit is %d", ErrBadID, len(id), MaxIDBytes)
	}
	return id, isString, nil
}

// isInteger reports whether a valid JSON number is written as an integer
// (optional minus sign followed by digits only).
func isInteger(num []byte) bool {
	digits := bytes.TrimPrefix(num, []byte("-"))
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonKind names the kind of JSON value starting with byte c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return "a number"
		}
		return "byte " + strconv.QuoteRune(rune(c))
	}
}
