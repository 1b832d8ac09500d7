// Package lambdarie runs a Lambda binary under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie) for tests.
//
//	bin := lambdarie.Build(t, "gridcode/functions/intake")
//	emu := lambdarie.Start(t, bin, "TABLE=x", "DYNAMODB_ENDPOINT="+dynamolocal.Endpoint(t))
//	out, err := emu.Invoke(ctx, []byte(`{"k":"v"}`))
//
// aws-lambda-rie is looked up in <repo root>/.cache/bin (where
// infra/scripts/install-tools.sh puts it), then on PATH. If it is missing the
// test is skipped, or fails when CI=true.
package lambdarie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	rieName      = "aws-lambda-rie"
	installHint  = "run infra/scripts/install-tools.sh from the repo root"
	startTimeout = 15 * time.Second
	// startAttempts is how often Start tries again when the emulator exits
	// while starting (e.g. another process took one of the free ports).
	startAttempts = 3
)

// defaultEnv is given to the emulator (which passes its whole environment on
// to the function) unless Start's env overrides an entry.
var defaultEnv = []string{
	"AWS_REGION=us-east-1",
	"AWS_DEFAULT_REGION=us-east-1",
	"AWS_ACCESS_KEY_ID=local",
	"AWS_SECRET_ACCESS_KEY=local",
	"AWS_EC2_METADATA_DISABLED=true",
	"AWS_LAMBDA_FUNCTION_NAME=test_function",
	"AWS_LAMBDA_FUNCTION_TIMEOUT=60", // seconds; the emulator's own default is 300
}

// passEnv lists the variables of the test process handed on to the emulator.
var passEnv = map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true}

// Emulator is a running aws-lambda-rie serving one Lambda binary.
type Emulator struct {
	url  string // invocation URL
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed when the emulator has exited
	werr error         // the emulator's exit status, valid after done is closed

	mu     sync.Mutex // serialises invocations: the emulator can't take concurrent ones
	client *http.Client
}

// Start runs `aws-lambda-rie <binary>` on two free loopback ports and waits
// until it listens. The emulator's environment is PATH, HOME and TMPDIR from
// the test process, then AWS_REGION=us-east-1, dummy credentials,
// AWS_LAMBDA_FUNCTION_TIMEOUT=60 and friends, then env ("KEY=value"; later
// entries win). The emulator passes its environment on to the function.
// The emulator and the function are killed in t.Cleanup.
//
// The function process itself is only started on the first Invoke, so
// errors in its init show up there.
func Start(t testing.TB, binary string, env ...string) *Emulator {
	t.Helper()
	rie, err := findRIE()
	if err != nil {
		if inCI() {
			t.Fatalf("lambdarie: %v; CI=true, so this is an error (%s)", err, installHint)
		}
		t.Skipf("\n"+
			"##########################################################################\n"+
			"## SKIPPED: the Lambda Runtime Interface Emulator is not available: %v\n"+
			"## To run this test: %s\n"+
			"##########################################################################", err, installHint)
	}
	bin, err := filepath.Abs(binary)
	if err != nil {
		t.Fatalf("lambdarie: %v", err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		t.Fatalf("lambdarie: Lambda binary %s is not a file (err=%v); build it with lambdarie.Build", bin, err)
	}

	fullEnv := make([]string, 0, len(defaultEnv)+len(env)+len(passEnv))
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); passEnv[k] {
			fullEnv = append(fullEnv, kv)
		}
	}
	fullEnv = append(fullEnv, defaultEnv...)
	fullEnv = append(fullEnv, env...) // exec.Cmd keeps the last value of a duplicated key

	for attempt := 1; ; attempt++ {
		e, err := launch(rie, bin, fullEnv)
		if err == nil {
			t.Cleanup(e.stop)
			return e
		}
		var early *exitedEarlyError
		if attempt < startAttempts && errors.As(err, &early) {
			continue
		}
		t.Fatalf("lambdarie: %v", err)
	}
}

// Invoke POSTs payload to the emulator's invocation endpoint and returns the
// response body. Invocations are serialised. A function that returns an error
// still yields a 200 response whose body is the error JSON
// ({"errorMessage":...,"errorType":...}); Invoke returns an error only for
// transport failures and non-200 statuses, with the emulator's output tail.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.done:
		return nil, fmt.Errorf("lambdarie: the emulator has exited (%v); its output:\n%s", e.werr, e.out.String())
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: invoke: %w; emulator output:\n%s", err, e.out.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: reading invoke response: %w; emulator output:\n%s", err, e.out.String())
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("lambdarie: invoke: HTTP %s: %s; emulator output:\n%s", resp.Status, body, e.out.String())
	}
	return body, nil
}

// Output returns the tail of what the emulator and the function have written
// to stdout and stderr so far (the function's logs included).
func (e *Emulator) Output() string { return e.out.String() }

// Build compiles pkg for the host with -tags lambda.norpc and CGO_ENABLED=0
// into t.TempDir() and returns the binary's path. pkg is an import path
// ("gridcode/functions/intake") or a directory path ("./testdata/echo",
// relative to the test's working directory, i.e. its package directory).
// It runs "go" from PATH (go test puts its own GOROOT/bin first there).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lambdarie: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func inCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func findRIE() (string, error) {
	if root, err := repoRoot(); err == nil {
		if p := filepath.Join(root, ".cache", "bin", rieName); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(rieName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in <repo>/.cache/bin nor on PATH", rieName)
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

type exitedEarlyError struct{ msg string }

func (e *exitedEarlyError) Error() string { return e.msg }

func launch(rie, bin string, env []string) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bin)
	cmd.Dir = filepath.Dir(bin) // like /var/task: the function's code directory
	cmd.Env = env
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()

	e := &Emulator{
		url:  "http://" + addr + "/2015-03-31/functions/function/invocations",
		cmd:  cmd,
		out:  out,
		done: make(chan struct{}),
		// No overall timeout: callers bound invocations with ctx. Fresh
		// transport so keep-alive connections die with the emulator.
		client: &http.Client{Transport: &http.Transport{}},
	}
	if err := startLocked(e); err != nil {
		return nil, fmt.Errorf("starting %s: %v", rie, err)
	}
	began := time.Now()
	for {
		select {
		case <-e.done:
			return nil, &exitedEarlyError{fmt.Sprintf("%s exited during start-up (%v); its output:\n%s", cmd, e.werr, out.String())}
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return e, nil
		}
		if time.Since(began) > startTimeout {
			e.stop()
			return nil, fmt.Errorf("%s did not listen on %s within %v; its output:\n%s", cmd, addr, startTimeout, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startLocked starts the emulator from a goroutine locked to its OS thread
// and waits for it there: Pdeathsig is tied to the forking thread, so that
// thread must outlive the child for Pdeathsig to mean "the test binary died".
func startLocked(e *Emulator) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // left locked: the thread is discarded once the emulator is gone
		if err := e.cmd.Start(); err != nil {
			started <- err
			close(e.done)
			return
		}
		started <- nil
		e.werr = e.cmd.Wait()
		close(e.done)
	}()
	return <-started
}

// stop kills the emulator's process group (the emulator and the function).
func (e *Emulator) stop() {
	if e.cmd.Process != nil {
		select {
		case <-e.done:
		default:
			killGroup(e.cmd.Process.Pid)
			<-e.done
		}
	}
	e.client.CloseIdleConnections()
}

func freePorts(n int) ([]int, error) {
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

// tailBuffer is an io.Writer safe for concurrent use that keeps the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return "(no output)"
	}
	return string(b.buf)
}
