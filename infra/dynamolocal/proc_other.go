//go:build unix && !linux

package dynamolocal

import "syscall"

// sysProcAttr puts java in its own process group. Pdeathsig is Linux-only:
// elsewhere a crashed test binary may leave java running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
