package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/shoal-search/shoal/bulkload"
)

// progressUI draws bulkload.Progress on stderr: a live one-line bar on a
// terminal, a plain line every plainEvery otherwise. It is safe for
// concurrent use (progress and rejected-document lines come from different
// goroutines).
type progressUI struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	fd        int
	drawn     bool // a bar is on the terminal's current line
	lastPlain time.Duration
	last      bulkload.Progress
	retries   int64         // last seen Progress.Retries
	retryAt   time.Duration // when it last grew
}

// retryingFor is how long after the last retry the bar says so.
const retryingFor = 3 * time.Second

// plainEvery is the interval of progress lines when not on a terminal.
const plainEvery = 2 * time.Second

func newProgressUI(w io.Writer) *progressUI {
	u := &progressUI{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty, u.fd = true, int(f.Fd())
	}
	return u
}

// update shows p; it is the loader's Progress callback.
func (u *progressUI) update(p bulkload.Progress) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.last = p
	if p.Retries != u.retries {
		u.retries, u.retryAt = p.Retries, p.Elapsed
	}
	if p.Done {
		return
	}
	if u.tty {
		u.draw()
		return
	}
	if p.Elapsed-u.lastPlain >= plainEvery {
		u.lastPlain = p.Elapsed
		fmt.Fprintln(u.w, "progress: "+progressText(p))
	}
}

// draw repaints the bar; u.mu is held.
func (u *progressUI) draw() {
	width := 80
	if w, _, err := term.GetSize(u.fd); err == nil && w > 0 {
		width = w
	}
	retrying := u.retries > 0 && u.last.Elapsed-u.retryAt < retryingFor
	fmt.Fprint(u.w, "\r"+barLine(u.last, width-1, retrying)+"\x1b[K")
	u.drawn = true
}

// clear removes the bar so that other output starts on a clean line.
func (u *progressUI) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
}

func (u *progressUI) clearLocked() {
	if u.drawn {
		fmt.Fprint(u.w, "\r\x1b[K")
		u.drawn = false
	}
}

// println prints a message line above the bar.
func (u *progressUI) println(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	redraw := u.drawn
	u.clearLocked()
	fmt.Fprintln(u.w, s)
	if redraw {
		u.draw()
	}
}

// progressText is the plain progress line.
func progressText(p bulkload.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s docs", commas(p.Acked))
	if p.Failed > 0 {
		fmt.Fprintf(&b, ", %s failed", commas(p.Failed))
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ", %s skipped", commas(p.Skipped))
	}
	if frac := p.Fraction(); frac >= 0 {
		fmt.Fprintf(&b, " (%s of %s MB, %d%%)", mb(p.BytesRead), mb(p.TotalBytes), int(frac*100))
	} else {
		fmt.Fprintf(&b, " (%s MB)", mb(p.BytesRead))
	}
	fmt.Fprintf(&b, ", %s docs/s", commas(int64(p.DocsPerSec+0.5)))
	if p.ETA > 0 {
		fmt.Fprintf(&b, ", ETA %s", clock(p.ETA))
	}
	if p.Retries > 0 {
		fmt.Fprintf(&b, ", %s retries", commas(p.Retries))
	}
	return b.String()
}

// barLine is the terminal progress line, at most width columns:
// "[=======>            ]  38%  12,345 docs  45.6/120.0 MB  4,567 docs/s  ETA 0:23".
// The bar comes first and has a fixed size so that it does not move; it is
// left out when the size of the input is unknown or the line too narrow.
// retrying adds a note that the server is being waited for.
func barLine(p bulkload.Progress, width int, retrying bool) string {
	text := commas(p.Acked) + " docs"
	if p.Failed > 0 {
		text += ", " + commas(p.Failed) + " failed"
	}
	if p.Skipped > 0 {
		text += ", " + commas(p.Skipped) + " skipped"
	}
	frac := p.Fraction()
	if frac >= 0 {
		text += "  " + mb(p.BytesRead) + "/" + mb(p.TotalBytes) + " MB"
	} else {
		text += "  " + mb(p.BytesRead) + " MB"
	}
	text += "  " + commas(int64(p.DocsPerSec+0.5)) + " docs/s"
	if p.ETA > 0 {
		text += "  ETA " + clock(p.ETA)
	}
	if retrying {
		text += "  (server unavailable, retrying)"
	}
	if frac < 0 {
		return truncate(text, width)
	}
	const barWidth = 20
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	line := fmt.Sprintf("[%s] %3d%%  %s", bar, int(frac*100), text)
	if len(line) > width {
		return truncate(text, width)
	}
	return line
}

func truncate(s string, width int) string {
	if width > 0 && len(s) > width {
		return s[:width]
	}
	return s
}

// rejectPrinter shows the first max rejected-document records on the
// progress UI's stream and counts the rest.
type rejectPrinter struct {
	ui      *progressUI
	max     int
	shown   int
	omitted bool
}

// Write receives JSON lines from the loader (one goroutine at a time).
func (r *rejectPrinter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		switch {
		case r.shown < r.max:
			r.shown++
			r.ui.println("rejected: " + line)
		case !r.omitted:
			r.omitted = true
			r.ui.println("rejected: … more not shown; use --errors FILE to keep them all")
		}
	}
	return len(p), nil
}

// commas formats n with thousands separators: 1234567 → "1,234,567".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mb formats bytes as megabytes with one decimal.
func mb(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) }

// seconds formats an elapsed time: "12.3s" under a minute, "4m5s" above.
func seconds(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
