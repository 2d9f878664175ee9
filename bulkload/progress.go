package bulkload

import (
	"time"
)

// Progress is a snapshot of a running load.
type Progress struct {
	// Sent counts documents handed to the server (retries not counted).
	Sent int64
	// Acked counts documents the server indexed or deleted.
	Acked int64
	// Failed counts documents rejected, by the reader or the server.
	Failed int64
	// Skipped counts lines skipped because the checkpoint had them.
	Skipped int64
	// Retries counts bulk requests repeated because the server was
	// unavailable.
	Retries int64
	// BytesRead is how much of the input files has been read, in bytes as
	// stored (compressed bytes for gzip files).
	BytesRead int64
	// TotalBytes is the summed size of the input files as stored, or 0 when
	// unknown (standard input).
	TotalBytes int64
	// Elapsed is the time since the load started.
	Elapsed time.Duration
	// DocsPerSec is the recent rate of finished (acknowledged or failed)
	// documents.
	DocsPerSec float64
	// ETA estimates the time left from the recent byte rate; 0 if unknown.
	ETA time.Duration
	// Done is set on the final call.
	Done bool
}

// Fraction returns BytesRead/TotalBytes in [0,1], or -1 if TotalBytes is
// unknown.
func (p Progress) Fraction() float64 {
	if p.TotalBytes <= 0 {
		return -1
	}
	return min(1, float64(p.BytesRead)/float64(p.TotalBytes))
}

// Summary is the outcome of a load.
type Summary struct {
	// Indexed counts documents written.
	Indexed int64
	// Deleted counts delete lines applied.
	Deleted int64
	// Failed counts documents rejected, by the reader or the server.
	Failed int64
	// Skipped counts lines skipped because the checkpoint had them.
	Skipped int64
	// Retries counts repeated bulk requests.
	Retries int64
	// Bytes is how much input was read, in bytes as stored.
	Bytes int64
	// Elapsed is the duration of the load.
	Elapsed time.Duration
	// DocsPerSec is (Indexed+Deleted+Failed)/Elapsed.
	DocsPerSec float64
	// Checkpoint is the checkpoint file used, or "" if none.
	Checkpoint string
}

// startProgress starts the goroutine calling Options.Progress and
// returns the function that stops it after a final call.
func (r *loadRun) startProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := rateWindow{samples: []rateSample{{t: r.start}}}
		t := time.NewTicker(r.opts.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				p := r.progress(&w)
				p.Done = true
				r.opts.Progress(p)
				return
			case <-t.C:
				r.opts.Progress(r.progress(&w))
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// progress takes a snapshot of the counters.
func (r *loadRun) progress(w *rateWindow) Progress {
	now := time.Now()
	p := Progress{
		Sent:       r.sent.Load(),
		Acked:      r.indexed.Load() + r.deleted.Load(),
		Failed:     r.failed.Load(),
		Skipped:    r.skipped.Load(),
		Retries:    r.retries.Load(),
		BytesRead:  r.bytesRead.Load(),
		TotalBytes: r.totalBytes,
		Elapsed:    now.Sub(r.start),
	}
	docRate, byteRate := w.add(now, p.Acked+p.Failed, p.BytesRead)
	p.DocsPerSec = docRate
	if p.TotalBytes > 0 && byteRate > 0 && p.BytesRead < p.TotalBytes {
		p.ETA = time.Duration(float64(p.TotalBytes-p.BytesRead) / byteRate * float64(time.Second))
	}
	return p
}

func (r *loadRun) summary() Summary {
	s := Summary{
		Indexed:    r.indexed.Load(),
		Deleted:    r.deleted.Load(),
		Failed:     r.failed.Load(),
		Skipped:    r.skipped.Load(),
		Retries:    r.retries.Load(),
		Bytes:      r.bytesRead.Load(),
		Elapsed:    time.Since(r.start),
		Checkpoint: r.opts.Checkpoint,
	}
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.DocsPerSec = float64(s.Indexed+s.Deleted+s.Failed) / secs
	}
	return s
}

// rateWindow measures recent rates over a sliding window of samples.
type rateWindow struct {
	samples []rateSample
}

type rateSample struct {
	t           time.Time
	docs, bytes int64
}

// rateSpan is how far back rateWindow looks.
const rateSpan = 10 * time.Second

// add records a sample and returns the docs and bytes per second over the
// window, 0 until there are two samples.
func (w *rateWindow) add(t time.Time, docs, bytes int64) (docRate, byteRate float64) {
	w.samples = append(w.samples, rateSample{t, docs, bytes})
	cut := 0
	for cut < len(w.samples)-2 && t.Sub(w.samples[cut].t) > rateSpan {
		cut++
	}
	w.samples = w.samples[cut:]
	first := w.samples[0]
	dt := t.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0, 0
	}
	return float64(docs-first.docs) / dt, float64(bytes-first.bytes) / dt
}
