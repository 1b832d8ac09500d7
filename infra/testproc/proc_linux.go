package testproc

import "syscall"

// SysProcAttr puts the child in its own process group (so it can be killed
// as a group, together with anything it starts) and has the kernel SIGKILL
// it if the test binary dies. Pdeathsig is tied to the forking thread: start
// the child with Start, which keeps that thread alive.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// KillGroup sends sig to the process group led by pid.
func KillGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
