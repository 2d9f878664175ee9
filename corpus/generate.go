package corpus

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"
)

// Parameters of the synthetic text model.
const (
	// synVocabularySize caps the vocabulary taken from the sample corpus.
	synVocabularySize = 20000
	// synZipfS is the Zipf exponent; natural language is close to 1.
	synZipfS = 1.07
	// synBodyMedianWords and synBodySigma shape the log-normal body length.
	synBodyMedianWords = 90
	synBodySigma       = 0.8
	synMinBodyWords    = 5
	synMaxBodyWords    = 3000
	// synPCGStream is the fixed second PCG seed word, so the seed alone
	// determines the output.
	synPCGStream = 0x5368_6f61_6c21 // "Shoal!"
)

// synDoc is one synthetic document. Field order is the JSON order.
type synDoc struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Kind  string `json:"kind"`
	Words int    `json:"words"`
}

// Synthetic writes n synthetic documents to w as JSON Lines, for building
// benchmark-scale indexes. The output depends only on seed and n (and on
// the embedded sample corpus); the first k documents for a given seed are
// the same whatever n is.
//
// Each document has the fields id ("syn-0000000", "syn-0000001", ...),
// title (a few words), body (sentences of words drawn from a Zipf
// distribution over the sample corpus's vocabulary ranked by frequency, so
// the term statistics resemble English prose; log-normal length with a
// median of about 90 words), kind (drawn with the frequencies of the
// sample's kinds, so [SampleFacets] and [SampleMapping] apply) and words
// (the body's word count).
func Synthetic(seed int64, n int, w io.Writer) error {
	if n < 0 {
		return fmt.Errorf("corpus: synthetic: negative document count %d", n)
	}
	if n == 0 {
		return nil
	}
	m, err := newSynModel()
	if err != nil {
		return fmt.Errorf("corpus: synthetic: %w", err)
	}
	return m.write(seed, n, w)
}

// write implements [Synthetic] for a given model.
func (m *synModel) write(seed int64, n int, w io.Writer) error {
	rng := rand.New(rand.NewPCG(uint64(seed), synPCGStream))
	zipf := rand.NewZipf(rng, synZipfS, 1, uint64(len(m.vocab)-1))

	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var sb strings.Builder
	for i := range n {
		d := synDoc{ID: fmt.Sprintf("syn-%07d", i)}

		sb.Reset()
		m.sentence(&sb, zipf, 2+rng.IntN(6), false)
		d.Title = sb.String()

		target := int(math.Round(synBodyMedianWords * math.Exp(synBodySigma*rng.NormFloat64())))
		target = min(max(target, synMinBodyWords), synMaxBodyWords)
		sb.Reset()
		for sentences := 0; d.Words < target; sentences++ {
			switch {
			case sentences == 0:
			case sentences%5 == 0:
				sb.WriteString("\n\n")
			default:
				sb.WriteByte(' ')
			}
			k := min(4+rng.IntN(16), target-d.Words)
			m.sentence(&sb, zipf, k, true)
			d.Words += k
		}
		d.Body = sb.String()
		d.Kind = m.kind(rng)

		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("corpus: synthetic: write document %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("corpus: synthetic: %w", err)
	}
	return nil
}

// synModel holds the statistics Synthetic draws from.
type synModel struct {
	vocab     []string // most frequent first
	kinds     []string // sorted by name
	kindCum   []int    // cumulative counts, parallel to kinds
	kindTotal int
}

// newSynModel derives the vocabulary and kind frequencies from the sample.
func newSynModel() (*synModel, error) {
	counts := make(map[string]int)
	kindCounts := make(map[string]int)
	r := NewReader(Sample(), ReaderOptions{})
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read sample: %w", err)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("sample line %d: %w", d.Line, d.Err)
		}
		var doc struct {
			Title string `json:"title"`
			Body  string `json:"body"`
			Kind  string `json:"kind"`
		}
		if err := json.Unmarshal(d.Body, &doc); err != nil {
			return nil, fmt.Errorf("sample line %d: %w", d.Line, err)
		}
		kindCounts[doc.Kind]++
		for _, word := range proseWords(doc.Body, doc.Kind) {
			counts[word]++
		}
	}
	if len(counts) < 2 || len(kindCounts) == 0 {
		return nil, errors.New("sample corpus is empty")
	}

	m := &synModel{vocab: make([]string, 0, len(counts))}
	for word := range counts {
		m.vocab = append(m.vocab, word)
	}
	slices.SortFunc(m.vocab, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
	})
	m.vocab = m.vocab[:min(len(m.vocab), synVocabularySize)]

	for kind := range kindCounts {
		m.kinds = append(m.kinds, kind)
	}
	slices.Sort(m.kinds)
	for _, kind := range m.kinds {
		m.kindTotal += kindCounts[kind]
		m.kindCum = append(m.kindCum, m.kindTotal)
	}
	return m, nil
}

// sentence appends k Zipf-distributed words to sb, capitalising the first
// and, if period is set, ending with a full stop.
func (m *synModel) sentence(sb *strings.Builder, zipf *rand.Zipf, k int, period bool) {
	for j := range k {
		word := m.vocab[zipf.Uint64()]
		if j == 0 {
			r, size := utf8.DecodeRuneInString(word)
			sb.WriteString(strings.ToUpper(string(r)))
			word = word[size:]
		} else {
			sb.WriteByte(' ')
		}
		sb.WriteString(word)
	}
	if period {
		sb.WriteByte('.')
	}
}

// kind draws a kind with the sample's frequencies.
func (m *synModel) kind(rng *rand.Rand) string {
	x := rng.IntN(m.kindTotal)
	i, _ := slices.BinarySearch(m.kindCum, x+1)
	return m.kinds[i]
}

// proseWords returns the lower-cased English words of a sample body: it
// drops the trailing declaration (all kinds but "package" end with one),
// indented code blocks, and identifiers such as "ReadFrom" or "EOF".
func proseWords(body, kind string) []string {
	if kind != "package" {
		if i := strings.LastIndex(body, "\n\n"); i >= 0 {
			body = body[:i]
		}
	}
	var words []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") {
			continue
		}
		for _, word := range strings.FieldsFunc(line, notASCIILetter) {
			if rest := word[1:]; rest != strings.ToLower(rest) {
				continue // camel case or all capitals: an identifier, not prose
			}
			words = append(words, strings.ToLower(word))
		}
	}
	return words
}

// notASCIILetter reports whether r is not an ASCII letter; it splits text
// into the words of the synthetic vocabulary.
func notASCIILetter(r rune) bool {
	return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z')
}
