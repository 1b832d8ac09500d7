package testproc

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestTailBufferKeepsTail(t *testing.T) {
	b := NewTailBuffer(8)
	if got := b.String(); got != "(no output)" {
		t.Errorf("empty buffer: String() = %q, want (no output)", got)
	}
	for _, s := range []string{"abc", "defgh", "ijklmnop", "qr"} {
		n, err := b.Write([]byte(s))
		if n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
		}
	}
	if got, want := b.String(), "klmnopqr"; got != want {
		t.Errorf("String() = %q, want the last 8 bytes %q", got, want)
	}
	// A single write longer than max keeps only its end.
	b.Write([]byte(strings.Repeat("x", 20) + "12345678"))
	if got, want := b.String(), "12345678"; got != want {
		t.Errorf("after a long write: String() = %q, want %q", got, want)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 5 {
		t.Fatalf("FreePorts(5) returned %d ports: %v", len(ports), ports)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || p > 65535 {
			t.Errorf("port %d out of range in %v", p, ports)
		}
		if seen[p] {
			t.Errorf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
	}
}

func TestRetryOnlyOnExitedEarly(t *testing.T) {
	calls := 0
	_, err := Retry(3, func() (int, error) {
		calls++
		return 0, &ExitedEarlyError{"early"}
	})
	if calls != 3 || err == nil || err.Error() != "early" {
		t.Errorf("always exiting early: %d calls, err %v; want 3 calls and the last error", calls, err)
	}

	calls = 0
	_, err = Retry(3, func() (int, error) {
		calls++
		return 0, errors.New("other")
	})
	if calls != 1 || err == nil {
		t.Errorf("other error: %d calls, err %v; want 1 call and the error", calls, err)
	}

	calls = 0
	v, err := Retry(3, func() (int, error) {
		calls++
		if calls < 2 {
			return 0, &ExitedEarlyError{"early"}
		}
		return 42, nil
	})
	if calls != 2 || v != 42 || err != nil {
		t.Errorf("success on 2nd attempt: %d calls, %d, %v; want 2 calls, 42, nil", calls, v, err)
	}
}

func TestStartStop(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep on PATH")
	}
	cmd := exec.Command(sleep, "60")
	cmd.SysProcAttr = SysProcAttr()
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() {
		t.Fatalf("sleep 60 exited at once: %v", p.Err())
	}
	stopped := make(chan struct{})
	go func() { p.Stop(5 * time.Second); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within 10s")
	}
	if !p.Exited() || p.Err() == nil {
		t.Errorf("after Stop: Exited() = %v, Err() = %v; want true and a signal error", p.Exited(), p.Err())
	}

	if _, err := Start(exec.Command("/nonexistent/binary")); err == nil {
		t.Error("Start of a missing binary succeeded")
	}
}
