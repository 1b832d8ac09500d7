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

	"gridcode/infra/testproc"
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
	url  string            // invocation URL
	proc *testproc.Process // the emulator
	out  *testproc.TailBuffer

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
		testproc.SkipOrFail(t, "lambdarie", "the Lambda Runtime Interface Emulator", err.Error(), installHint)
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

	e, err := testproc.Retry(startAttempts, func() (*Emulator, error) { return launch(rie, bin, fullEnv) })
	if err != nil {
		t.Fatalf("lambdarie: %v", err)
	}
	t.Cleanup(e.stop)
	return e
}

// Invoke POSTs payload to the emulator's invocation endpoint and returns the
// response body. Invocations are serialised. A function that returns an error
// still yields a 200 response whose body is the error JSON
// ({"errorMessage":...,"errorType":...}); Invoke returns an error only for
// transport failures and non-200 statuses, with the emulator's output tail.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc.Exited() {
		return nil, fmt.Errorf("lambdarie: the emulator has exited (%v); its output:\n%s", e.proc.Err(), e.out.String())
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

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func findRIE() (string, error) {
	if root, err := testproc.RepoRoot(); err == nil {
		if p := filepath.Join(root, ".cache", "bin", rieName); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(rieName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in <repo>/.cache/bin nor on PATH", rieName)
}

func launch(rie, bin string, env []string) (*Emulator, error) {
	ports, err := testproc.FreePorts(2)
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
	out := testproc.NewTailBuffer(64 << 10)
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group (the emulator and the function it starts), and
	// SIGKILL from the kernel if the test binary dies.
	cmd.SysProcAttr = testproc.SysProcAttr()

	// testproc.Start waits for the emulator on the locked thread that forked
	// it: Pdeathsig is tied to the forking thread, so that thread must
	// outlive the child for Pdeathsig to mean "the test binary died".
	proc, err := testproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %v", rie, err)
	}
	e := &Emulator{
		url:  "http://" + addr + "/2015-03-31/functions/function/invocations",
		proc: proc,
		out:  out,
		// No overall timeout: callers bound invocations with ctx. Fresh
		// transport so keep-alive connections die with the emulator.
		client: &http.Client{Transport: &http.Transport{}},
	}
	began := time.Now()
	for {
		if proc.Exited() {
			return nil, &testproc.ExitedEarlyError{Msg: fmt.Sprintf("%s exited during start-up (%v); its output:\n%s", cmd, proc.Err(), out.String())}
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

// stop kills the emulator's process group (the emulator and the function).
func (e *Emulator) stop() {
	e.proc.Stop(0) // SIGKILL straight away
	e.client.CloseIdleConnections()
}
