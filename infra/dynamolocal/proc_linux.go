package dynamolocal

import "syscall"

// sysProcAttr puts java in its own process group (so it can be killed as a
// group) and has the kernel SIGKILL it if the test binary dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
