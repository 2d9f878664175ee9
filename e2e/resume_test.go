package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-search/shoal/bulkload"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestIndexCLIInterruptAndResume runs the real `shoal index` against a real
// multi-process cluster, interrupts it with SIGINT (as Ctrl-C does) in the
// middle of a 20,000-document load, and resumes it: the second run skips
// exactly what the checkpoint says was acknowledged and the final count is
// exact.
func TestIndexCLIInterruptAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	const n = 20000
	c := StartCluster(t, shoalBin, Options{Searchers: 2})
	dir := t.TempDir()
	file := filepath.Join(dir, "docs.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := corpus.Synthetic(7, n, zw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	args := []string{"index", "--server", c.URL, "--index", "resume", "--create", "--shards", "4",
		"--batch", "250", "--concurrency", "2", file}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first := exec.Command(shoalBin, args...)
	var out1, err1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &err1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	// Interrupt once a good part, but not all, is in: acknowledged, as the
	// checkpoint (saved every 500ms) records, which is sooner than
	// searchable (a searcher lingers up to a second to fill a batch).
	key, err := bulkload.StatFileKey(file)
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 2*time.Minute, pollEvery, func() error {
		ck, err := bulkload.ReadCheckpoint(file + bulkload.CheckpointSuffix)
		if err != nil {
			return err
		}
		done, err := ck.Lines(key)
		if err != nil {
			return err
		}
		if n := done.GetCardinality(); n < 500 {
			return fmt.Errorf("first load not under way: %d documents acknowledged", n)
		}
		return nil
	})
	if err := first.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := <-exited; !errors.As(err, &exitErr) || exitErr.ExitCode() == 0 {
		t.Fatalf("interrupted load should exit non-zero, got %v\nstdout: %s\nstderr: %s", err, out1.String(), err1.String())
	}
	ck, err := bulkload.ReadCheckpoint(file + bulkload.CheckpointSuffix)
	if err != nil {
		t.Fatalf("checkpoint: %v\nstderr: %s", err, err1.String())
	}
	done, err := ck.Lines(key)
	if err != nil {
		t.Fatal(err)
	}
	acked := int(done.GetCardinality())
	if acked == 0 || acked >= n {
		t.Fatalf("interrupt came at %d of %d acknowledged documents; want the middle", acked, n)
	}
	t.Logf("interrupted after %d acknowledged documents; stderr tail: %s", acked, tail(err1.String(), 300))

	second := exec.Command(shoalBin, append(args[:len(args)-1], "--resume", file)...)
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("resumed load: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`indexed ([\d,]+).*skipped ([\d,]+) \(resume\)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no summary in resumed output:\n%s", out)
	}
	indexed, skipped := atoi(m[1]), atoi(m[2])
	if skipped != acked || indexed != n-acked {
		t.Fatalf("resume skipped %d and indexed %d; checkpoint had %d of %d\n%s", skipped, indexed, acked, n, out)
	}
	testwait.For(t, time.Minute, pollEvery, func() error {
		info, err := c.Client.GetIndex(ctx, "resume")
		if err != nil {
			return err
		}
		if info.Docs != n {
			return fmt.Errorf("final count %d documents, want exactly %d", info.Docs, n)
		}
		return nil
	})
	// Spot-check documents from both runs by id.
	for _, line := range []int{1, acked, acked + 1, n} {
		id := "syn-" + pad7(line-1)
		if _, err := c.Client.GetDoc(ctx, "resume", id); err != nil {
			if errors.Is(err, client.ErrNotFound) {
				t.Errorf("document %s (line %d) missing", id, line)
			} else {
				t.Errorf("get %s: %v", id, err)
			}
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}

func pad7(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 7 {
		s = "0" + s
	}
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
