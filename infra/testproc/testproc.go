// Package testproc holds what the test harnesses in infra (dynamolocal,
// lambdarie) need to run a helper program as a child process: finding the
// repo root, picking free loopback ports, keeping the tail of the child's
// output, and starting the child so that it dies with the test binary.
package testproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether $CI is set to a true value (CI=true). Harnesses then
// fail instead of skipping when a prerequisite is missing.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// SkipOrFail ends the test because what is not available for reason: it
// fails when CI=true and skips (with a banner that is hard to overlook)
// otherwise. prefix names the harness in the failure message; hint says how
// to install what is missing.
func SkipOrFail(t testing.TB, prefix, what, reason, hint string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s: %s; CI=true, so this is an error (%s)", prefix, reason, hint)
	}
	t.Skipf("\n"+
		"##########################################################################\n"+
		"## SKIPPED: %s is not available: %s\n"+
		"## To run this test: %s\n"+
		"##########################################################################", what, reason, hint)
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1. Another
// process may take one before the caller binds it; see ExitedEarlyError and
// Retry.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %v", err)
		}
		defer l.Close() // keep all open until we have n distinct ports
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// TailBuffer is an io.Writer safe for concurrent use that keeps the last
// max bytes written to it.
type TailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

// NewTailBuffer returns a TailBuffer keeping the last max bytes.
func NewTailBuffer(max int) *TailBuffer { return &TailBuffer{max: max} }

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the bytes kept, or "(no output)" if there are none.
func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return "(no output)"
	}
	return string(b.buf)
}

// ExitedEarlyError reports that a child exited while it was starting up,
// most likely because another process took the free port picked for it.
type ExitedEarlyError struct{ Msg string }

func (e *ExitedEarlyError) Error() string { return e.Msg }

// Retry calls launch up to attempts times and returns its first success. It
// tries again only when launch fails with an *ExitedEarlyError (most likely a
// lost race for a port, so picking another one helps); other errors, and the
// last attempt's error, are returned as they are.
func Retry[T any](attempts int, launch func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := launch()
		if err == nil {
			return v, nil
		}
		var early *ExitedEarlyError
		if attempt < attempts && errors.As(err, &early) {
			continue
		}
		return v, err
	}
}

// Process is a child process started by Start.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{} // closed when the child has exited
	err  error         // the child's exit status, valid after done is closed
}

// Start starts cmd from a goroutine locked to its OS thread and waits for it
// there. Pdeathsig (see SysProcAttr) fires when the thread that forked the
// child exits, not the process; keeping that thread alive until the child is
// gone makes Pdeathsig mean "the test binary died".
//
// Set cmd.SysProcAttr = SysProcAttr() before calling Start.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left locked on purpose: when this goroutine returns
		// the runtime discards the thread, after the child has exited.
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.done)
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Done returns a channel that is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the child's exit status (as from exec.Cmd.Wait). It is valid
// once Done is closed.
func (p *Process) Err() error { return p.err }

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop kills the child's process group and waits for the child to exit. With
// grace > 0 it sends SIGTERM first and SIGKILL only if the child is still
// running after grace; otherwise it sends SIGKILL straight away.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	pid := p.Cmd.Process.Pid
	if grace > 0 {
		KillGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
	}
	KillGroup(pid, syscall.SIGKILL)
	<-p.done
}
