package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is one shoal process that can be killed and started again with the
// same arguments and the same log file.
type Proc struct {
	// Name identifies the process in logs ("broker", "s1", "coordinator").
	Name string
	bin  string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	runs int
}

// newProc describes a process; it does not start it.
func newProc(bin, dir, name string, args ...string) *Proc {
	return &Proc{Name: name, bin: bin, args: args, log: filepath.Join(dir, name+".log")}
}

// Start starts the process in its own process group, its stdout and stderr
// appended to its log file.
func (p *Proc) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			t.Fatalf("%s: already running", p.Name)
		}
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("%s: log file: %v", p.Name, err)
	}
	p.runs++
	run := p.runs
	fmt.Fprintf(f, "=== run %d at %s: %s %s\n", run, time.Now().Format("15:04:05.000"), filepath.Base(p.bin), strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("%s: start: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== run %d ended at %s: %v\n", run, time.Now().Format("15:04:05.000"), err)
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// Kill sends SIGKILL to the process group and waits until the process has
// exited, so its sockets are closed when Kill returns.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGKILL, true, 10*time.Second)
}

// Stop sends SIGTERM, as `docker stop` or a service manager would, and
// waits until the process has exited.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGTERM, false, 15*time.Second)
}

// signal sends sig to the process (to its whole group if group) and waits
// up to wait for it to exit.
func (p *Proc) signal(t testing.TB, sig syscall.Signal, group bool, wait time.Duration) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if group {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	} else {
		_ = cmd.Process.Signal(sig)
	}
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatalf("%s: still running %v after %v", p.Name, wait, sig)
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PeakRSS is the most memory the running process has held resident so
// far (VmHWM in /proc/PID/status), in bytes.
func (p *Proc) PeakRSS(t testing.TB) int64 {
	t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		t.Fatalf("%s: not started", p.Name)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: VmHWM %q: %v", p.Name, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("%s: no VmHWM in /proc/%d/status", p.Name, cmd.Process.Pid)
	return 0
}

// Log returns the last max bytes of the process's log.
func (p *Proc) Log(max int64) string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
