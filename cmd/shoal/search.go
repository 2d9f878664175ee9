package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shoal-search/shoal/client"
)

// searchFlags are the flags of `shoal search`.
type searchFlags struct {
	client     clientFlags
	index      string
	size, from int
	json       bool
	timeout    string
}

func newSearchCmd() *cobra.Command {
	var f searchFlags
	cmd := &cobra.Command{
		Use:   "search --index NAME [flags] QUERY...",
		Short: "Search an index and print the hits",
		Long: `Runs a query in Bleve's query-string syntax (words, "phrases", field:term,
+must, -must_not, prefix*, fuzzy~1, …) and prints the hits: rank, score, id,
title and the first highlighted fragment, then the total and the time taken.
When some shards did not answer, a warning line names them. With --json the
server's response is printed as it is.`,
		Example: `  shoal search --index sample 'http client'
  shoal search --index books --size 20 --from 20 'title:whale'
  shoal search --index books --json 'moby dick' | jq .total_hits`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd.Context(), cmd.OutOrStdout(), &f, strings.Join(args, " "))
		},
	}
	fl := cmd.Flags()
	f.client.register(fl)
	fl.StringVar(&f.index, "index", "", "index to search (required)")
	fl.IntVar(&f.size, "size", 10, "number of hits to show")
	fl.IntVar(&f.from, "from", 0, "hits to skip (for paging)")
	fl.BoolVar(&f.json, "json", false, "print the raw JSON response")
	fl.StringVar(&f.timeout, "timeout", "", `search timeout on the server, e.g. "500ms" (default: the server's)`)
	bindEnv(cmd)
	return cmd
}

// runSearch is `shoal search`.
func runSearch(ctx context.Context, stdout io.Writer, f *searchFlags, q string) error {
	switch {
	case f.index == "":
		return errors.New("--index is required (or SHOAL_INDEX)")
	case strings.TrimSpace(q) == "":
		return errors.New("the query is empty")
	case f.size < 0 || f.from < 0:
		return errors.New("--size and --from must not be negative")
	}
	c, err := f.client.newClient("shoal-search")
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	res, err := c.Search(ctx, f.index, &client.SearchRequest{
		Query:     client.QueryString(q),
		Size:      new(f.size),
		From:      f.from,
		Fields:    []string{"title"},
		Highlight: &client.HighlightRequest{Style: "html"},
		Timeout:   f.timeout,
	})
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == 400 {
			return fmt.Errorf("the server refused the query: %s", ae.Reason)
		}
		return explain(err, f.client.server, f.index)
	}
	if f.json {
		_, err := fmt.Fprintf(stdout, "%s\n", res.Raw)
		return err
	}
	tty := false
	if file, ok := stdout.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	printHits(stdout, res, f.from, tty)
	return nil
}

// printHits writes the hits and the footer. On a terminal highlighted
// terms are shown in bold.
func printHits(w io.Writer, res *client.SearchResponse, from int, tty bool) {
	for i, h := range res.Hits {
		line := fmt.Sprintf("%3d. %7.3f  %s", from+i+1, h.Score, h.ID)
		if t, ok := h.Fields["title"].(string); ok && t != "" && t != h.ID {
			line += "  " + oneLine(t, 100)
		}
		fmt.Fprintln(w, line)
		if frag := firstFragment(h); frag != "" {
			fmt.Fprintln(w, "      "+renderFragment(frag, tty))
		}
	}
	if len(res.Hits) > 0 {
		fmt.Fprintln(w)
	}
	switch {
	case res.TotalHits == 0:
		fmt.Fprint(w, "no hits")
	case len(res.Hits) == 0:
		fmt.Fprintf(w, "%s hits (none from %d on)", commas(int64(res.TotalHits)), from+1)
	default:
		fmt.Fprintf(w, "%s hits, showing %d-%d", commas(int64(res.TotalHits)), from+1, from+len(res.Hits))
	}
	fmt.Fprintf(w, ", took %s ms\n", fmtMillis(res.TookMS))
	if res.Partial || res.TimedOut || res.Shards.Failed > 0 {
		fmt.Fprintln(w, partialWarning(res))
	}
}

// partialWarning names the shards missing from res.
func partialWarning(res *client.SearchResponse) string {
	s := res.Shards
	msg := fmt.Sprintf("warning: partial results: %d of %d shards answered", s.Successful, s.Total)
	if c := res.Coverage; c.Total > 0 {
		msg += fmt.Sprintf(", %v%% of the documents", c.Percent)
	}
	if res.TimedOut {
		msg += " (timed out)"
	}
	if len(s.Failures) > 0 {
		parts := make([]string, len(s.Failures))
		for i, f := range s.Failures {
			parts[i] = f.String()
		}
		msg += "; failed: " + strings.Join(parts, "; ")
	}
	return msg
}

// firstFragment returns the first highlighted fragment, preferring fields
// other than the title (already shown), in field-name order.
func firstFragment(h client.Hit) string {
	fields := make([]string, 0, len(h.Fragments))
	for name, frags := range h.Fragments {
		if len(frags) > 0 {
			fields = append(fields, name)
		}
	}
	slices.SortFunc(fields, func(a, b string) int {
		if (a == "title") != (b == "title") {
			if a == "title" {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	if len(fields) == 0 {
		return ""
	}
	return h.Fragments[fields[0]][0]
}

// renderFragment turns an HTML-highlighted fragment into one line of
// terminal text: <mark> becomes bold on a terminal and nothing elsewhere,
// entities are decoded, white space is folded and control characters of
// the document (escape sequences included) are neutralised.
func renderFragment(frag string, tty bool) string {
	const markOn, markOff = "\ue000", "\ue001" // private-use stand-ins
	frag = strings.NewReplacer(markOn, "", markOff, "").Replace(frag)
	frag = strings.NewReplacer("<mark>", markOn, "</mark>", markOff).Replace(frag)
	text := oneLine(html.UnescapeString(frag), 400)
	on, off := "", ""
	if tty {
		on, off = "\x1b[1m", "\x1b[0m"
	}
	if strings.Count(text, markOn) > strings.Count(text, markOff) {
		text += markOff // cut inside a highlight
	}
	return strings.NewReplacer(markOn, on, markOff, off).Replace(text)
}

// clean replaces control characters (escape sequences included) by spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// oneLine folds white space and cuts s to at most max runes of text.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(clean(s)), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// fmtMillis prints a millisecond count without a useless fraction.
func fmtMillis(ms float64) string {
	if ms == float64(int64(ms)) {
		return commas(int64(ms))
	}
	return fmt.Sprintf("%.1f", ms)
}
