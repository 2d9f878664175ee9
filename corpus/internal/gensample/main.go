// Command gensample builds Shoal's built-in sample corpus from the Go
// standard library's own documentation.
//
// It walks $(go env GOROOT)/src, skipping internal, vendor, testdata and cmd
// directories, parses every package with go/parser and go/doc (as it would be
// built for linux/amd64, so the output does not depend on the host), and emits
// one JSON object per package and per documented exported declaration:
//
//	{"id":"go:net/http.Client.Do","title":"http.Client.Do","body":"...",
//	 "pkg":"net/http","kind":"method","source":"go-stdlib","words":97,"length":612}
//
// Declarations without a doc comment are skipped. The output is sorted by id
// and gzip-compressed with an empty header (no name, no timestamp), so the
// same Go release always yields byte-identical output.
//
// It is normally run through go generate in the corpus package:
//
//	go run ./internal/gensample -o sample.jsonl.gz -license SAMPLE_LICENSE
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits that keep the shipped file small and the documents readable.
const (
	// maxSignatureBytes caps the printed declaration appended to a body;
	// huge const blocks (syscall, for example) are cut at a line boundary.
	maxSignatureBytes = 1500
	// maxBodyBytes caps a whole body; only a few package overviews exceed it.
	maxBodyBytes = 16 << 10
	// maxTitleNames is how many names a grouped const/var title lists.
	maxTitleNames = 3
)

// skipDir reports whether a directory with this base name is never
// descended into: non-public, vendored, test-only or command code, plus
// names the go tool itself ignores.
func skipDir(name string) bool {
	switch name {
	case "internal", "vendor", "testdata", "cmd":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// record is one line of the sample corpus. Field order is the JSON order.
type record struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Pkg    string `json:"pkg"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Words  int    `json:"words"`
	Length int    `json:"length"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gensample: ")
	out := flag.String("o", "sample.jsonl.gz", "output `file` (gzip-compressed JSON Lines)")
	license := flag.String("license", "", "if set, also write the licence note plus GOROOT/LICENSE to this `file`")
	goroot := flag.String("goroot", "", "Go root to read (default: go env GOROOT)")
	flag.Parse()

	if err := run(*goroot, *out, *license); err != nil {
		log.Fatal(err)
	}
}

func run(goroot, out, license string) error {
	if goroot == "" {
		b, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return fmt.Errorf("go env GOROOT: %w", err)
		}
		goroot = strings.TrimSpace(string(b))
	}
	recs, err := collect(goroot)
	if err != nil {
		return err
	}
	data, err := encode(recs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	log.Printf("wrote %d documents, %d bytes to %s", len(recs), len(data), out)
	if license != "" {
		if err := writeLicense(goroot, license); err != nil {
			return err
		}
	}
	return nil
}

// collect walks goroot/src and returns all records sorted by id.
func collect(goroot string) ([]record, error) {
	src := filepath.Join(goroot, "src")
	ctx := build.Default
	ctx.GOROOT = goroot
	ctx.GOOS, ctx.GOARCH = "linux", "amd64"
	ctx.CgoEnabled = true
	ctx.BuildTags = nil
	ctx.ToolTags = nil

	var recs []record
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != src && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		importPath := filepath.ToSlash(rel)
		bp, err := ctx.ImportDir(path, 0)
		if err != nil {
			var noGo *build.NoGoError
			if errors.As(err, &noGo) {
				return nil // directory holds no buildable Go files
			}
			return fmt.Errorf("import %s: %w", importPath, err)
		}
		if bp.Name == "main" {
			return nil
		}
		pkgRecs, err := packageRecords(path, importPath, append(bp.GoFiles, bp.CgoFiles...))
		if err != nil {
			return err
		}
		recs = append(recs, pkgRecs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", src, err)
	}
	slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(recs); i++ {
		if recs[i].ID == recs[i-1].ID {
			return nil, fmt.Errorf("duplicate id %q", recs[i].ID)
		}
	}
	return recs, nil
}

// packageRecords parses the named files of one package and builds its records.
func packageRecords(dir, importPath string, names []string) ([]record, error) {
	fset := token.NewFileSet()
	files := make([]*ast.File, 0, len(names))
	slices.Sort(names)
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s/%s: %w", importPath, name, err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, importPath)
	if err != nil {
		return nil, fmt.Errorf("doc %s: %w", importPath, err)
	}
	b := &builder{fset: fset, pkg: p, importPath: importPath}

	b.add("package", "", importPath, p.Doc, nil)
	b.values("const", p.Consts)
	b.values("var", p.Vars)
	b.funcs(p.Funcs)
	for _, t := range p.Types {
		b.add("type", t.Name, p.Name+"."+t.Name, t.Doc, t.Decl)
		b.values("const", t.Consts)
		b.values("var", t.Vars)
		b.funcs(t.Funcs)
		for _, m := range t.Methods {
			if m.Level > 0 {
				continue // promoted from an embedded type; documented there
			}
			b.add("method", t.Name+"."+m.Name, p.Name+"."+t.Name+"."+m.Name, m.Doc, m.Decl)
		}
	}
	return b.recs, b.err
}

// builder accumulates the records of one package.
type builder struct {
	fset       *token.FileSet
	pkg        *doc.Package
	importPath string
	recs       []record
	err        error
}

func (b *builder) values(kind string, vs []*doc.Value) {
	for _, v := range vs {
		var exported []string
		for _, n := range v.Names {
			if token.IsExported(n) {
				exported = append(exported, n)
			}
		}
		if len(exported) == 0 {
			continue
		}
		title := b.pkg.Name + "." + exported[0]
		if len(exported) > 1 {
			shown := exported[1:min(len(exported), maxTitleNames)]
			title += ", " + strings.Join(shown, ", ")
			if len(exported) > maxTitleNames {
				title += ", …"
			}
		}
		b.add(kind, exported[0], title, v.Doc, v.Decl)
	}
}

func (b *builder) funcs(fs []*doc.Func) {
	for _, f := range fs {
		b.add("func", f.Name, b.pkg.Name+"."+f.Name, f.Doc, f.Decl)
	}
}

// add appends a record unless the doc comment is empty. name is the
// package-relative name ("" for the package itself, "T.M" for methods).
func (b *builder) add(kind, name, title, comment string, decl ast.Node) {
	if b.err != nil || strings.TrimSpace(comment) == "" {
		return
	}
	id := "go:" + b.importPath
	if name != "" {
		id += "." + name
	}
	if !isASCIIID(id) {
		b.err = fmt.Errorf("id %q is not printable ASCII without spaces", id)
		return
	}
	body, err := b.body(comment, decl)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", id, err)
		return
	}
	b.recs = append(b.recs, record{
		ID:     id,
		Title:  title,
		Body:   body,
		Pkg:    b.importPath,
		Kind:   kind,
		Source: "go-stdlib",
		Words:  len(strings.Fields(body)),
		Length: utf8.RuneCountInString(body),
	})
}

// body renders the doc comment as unwrapped plain text and appends the
// declaration's signature, separated by a blank line.
func (b *builder) body(comment string, decl ast.Node) (string, error) {
	pr := b.pkg.Printer()
	pr.TextWidth = -1 // one line per paragraph; the search engine does not care about columns
	text := strings.TrimSpace(string(pr.Text(b.pkg.Parser().Parse(comment))))
	if decl != nil {
		var buf bytes.Buffer
		cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
		if err := cfg.Fprint(&buf, b.fset, decl); err != nil {
			return "", fmt.Errorf("print declaration: %w", err)
		}
		text += "\n\n" + truncateLines(buf.String(), maxSignatureBytes, "\t// …")
	}
	return truncateLines(text, maxBodyBytes, "…"), nil
}

// truncateLines cuts s to at most limit bytes at a line boundary, appending
// marker on its own line when anything was removed.
func truncateLines(s string, limit int, marker string) string {
	if len(s) <= limit {
		return s
	}
	cut := strings.LastIndexByte(s[:limit], '\n')
	if cut <= 0 {
		cut = limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " \t\n") + "\n" + marker
}

// isASCIIID reports whether id consists of printable ASCII without spaces.
func isASCIIID(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return id != ""
}

// encode writes recs as JSON Lines and gzips them deterministically.
func encode(recs []record) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	// The zero Header has no name, no comment and a zero ModTime, which
	// gzip writes as "no timestamp", so the output is reproducible.
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return nil, fmt.Errorf("encode %s: %w", r.ID, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// licenseNote precedes the verbatim Go LICENSE in the licence file.
const licenseNote = `The sample corpus in sample.jsonl.gz is derived from the documentation
comments and declarations of the Go standard library, extracted from the
Go source tree by corpus/internal/gensample. That text is Copyright The Go
Authors and is distributed under the following licence (a verbatim copy of
the LICENSE file of the Go project):

`

func writeLicense(goroot, path string) error {
	lic, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return fmt.Errorf("read Go licence: %w", err)
	}
	if err := os.WriteFile(path, append([]byte(licenseNote), lic...), 0o644); err != nil {
		return fmt.Errorf("write licence: %w", err)
	}
	return nil
}
