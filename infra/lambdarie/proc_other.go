//go:build unix && !linux

package lambdarie

import "syscall"

// sysProcAttr puts the emulator in its own process group. Pdeathsig is
// Linux-only: elsewhere a crashed test binary may leave the emulator running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
