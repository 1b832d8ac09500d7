package crashtest

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gridcode/infra/testproc"
)

// Build compiles the gridcode CLI into dir and returns the binary's path.
// It runs "go" from PATH in the repository holding the working directory.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := testproc.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("crashtest: build: %w", err)
	}
	out := filepath.Join(dir, "gridcode")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./infra/cmd/gridcode")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("crashtest: go build ./infra/cmd/gridcode: %v\n%s", err, b)
	}
	return out, nil
}

// server is one life of `gridcode serve`, in its own process group.
type server struct {
	proc      *testproc.Process
	out       *testproc.TailBuffer
	url       string
	transport *http.Transport
	client    *http.Client
}

// startTimeout bounds a start: the first one loads the demo district.
const startTimeout = 60 * time.Second

// startServer starts `binary serve` on port and data dir and waits until
// it answers GET /healthz. A server that exits while starting (most
// likely another process took the port) is a *testproc.ExitedEarlyError.
func startServer(ctx context.Context, binary, dataDir string, port int) (*server, error) {
	out := testproc.NewTailBuffer(32 << 10)
	cmd := exec.Command(binary, "serve", "--port", strconv.Itoa(port), "--data-dir", dataDir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = testproc.SysProcAttr()
	p, err := testproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("crashtest: start gridcode serve: %w", err)
	}
	// A fresh transport per life: a kept-alive connection to the killed
	// process would fail the next life's first request.
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	s := &server{proc: p, out: out, url: "http://127.0.0.1:" + strconv.Itoa(port), transport: transport,
		client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	deadline := time.Now().Add(startTimeout)
	for {
		if p.Exited() {
			transport.CloseIdleConnections()
			return nil, &testproc.ExitedEarlyError{Msg: fmt.Sprintf("crashtest: gridcode serve exited while starting: %v\n%s", p.Err(), out)}
		}
		if s.healthy(ctx) {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return nil, fmt.Errorf("crashtest: gridcode serve did not answer /healthz within %s (%v)\n%s", startTimeout, ctx.Err(), out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *server) healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL to the server's process group and waits for it to die.
func (s *server) kill() {
	s.proc.Stop(0)
	s.transport.CloseIdleConnections()
}

// stop ends the server with SIGTERM, SIGKILL after grace.
func (s *server) stop(grace time.Duration) {
	s.proc.Stop(grace)
	s.transport.CloseIdleConnections()
}

// died says whether the server exited on its own, and how.
func (s *server) died() (bool, string) {
	if !s.proc.Exited() {
		return false, ""
	}
	return true, fmt.Sprintf("%v: %s", s.proc.Err(), strings.TrimSpace(s.out.String()))
}
