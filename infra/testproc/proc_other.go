//go:build unix && !linux

package testproc

import "syscall"

// SysProcAttr puts the child in its own process group. Pdeathsig is
// Linux-only: elsewhere a crashed test binary may leave the child running.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// KillGroup sends sig to the process group led by pid.
func KillGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
