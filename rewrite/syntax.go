package rewrite

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/blevesearch/bleve/v2/search/query"
)

// SyntaxError is a query string Bleve's parser would take, but not as its
// author meant: unbalanced parentheses (`title:(`), or a field given only
// brackets (`title:[` — there is no range syntax with brackets).
type SyntaxError struct {
	Query  string
	Offset int // byte offset of the problem, -1 when it is the whole
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("query string %q: %s at offset %d", e.Query, e.Reason, e.Offset)
	}
	return fmt.Sprintf("query string %q: %s", e.Query, e.Reason)
}

// checkSyntax checks the parentheses of a query string: outside quoted
// phrases and /regexps/, and not escaped with a backslash, every ')' must
// close a '(' and every '(' be closed.
func checkSyntax(s string) error {
	var open []int
	termStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++ // the next byte is literal
		case c == '"':
			end := closing(s, i+1, '"')
			if end < 0 {
				return &SyntaxError{Query: s, Offset: i, Reason: "unterminated quoted phrase"}
			}
			i = end
		case c == '/' && termStart:
			end := closing(s, i+1, '/')
			if end < 0 {
				return &SyntaxError{Query: s, Offset: i, Reason: "unterminated /regexp/"}
			}
			i = end
		case c == '(':
			open = append(open, i)
		case c == ')':
			if len(open) == 0 {
				return &SyntaxError{Query: s, Offset: i, Reason: "')' closes no '('"}
			}
			open = open[:len(open)-1]
		}
		termStart = c == ' ' || c == '\t' || c == '\n' || c == ':' || c == '(' || c == '+' || c == '-'
	}
	if len(open) > 0 {
		return &SyntaxError{Query: s, Offset: open[len(open)-1], Reason: "'(' is never closed"}
	}
	return nil
}

// closing is the index of the first unescaped c in s from i, or -1.
func closing(s string, i int, c byte) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case c:
			return i
		}
	}
	return -1
}

// checkValue refuses a match whose whole text is brackets and punctuation:
// what `title:[` or `title:{` parse to.
func checkValue(q query.Query, src string) error {
	var text string
	switch q := q.(type) {
	case *query.MatchQuery:
		text = q.Match
	case *query.MatchPhraseQuery:
		text = q.MatchPhrase
	case *query.TermQuery:
		text = q.Term
	default:
		return nil
	}
	if strings.ContainsAny(text, "()[]{}") && strings.IndexFunc(text, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r)
	}) < 0 {
		return &SyntaxError{Query: src, Offset: -1, Reason: fmt.Sprintf("unexpected %q (brackets are not query syntax; escape them with a backslash)", text)}
	}
	return nil
}
