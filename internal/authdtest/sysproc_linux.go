package authdtest

import "syscall"

// sysProcAttr puts a process in a group of its own, so that a terminal's
// Ctrl-C reaches the test binary alone, which then stops the group in
// order; and has the kernel kill it should the test binary die without
// stopping it (a panic, go test's -timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
