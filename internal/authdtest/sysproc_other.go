//go:build unix && !linux

package authdtest

import "syscall"

// sysProcAttr puts a process in a group of its own, so that a terminal's
// Ctrl-C reaches the test binary alone, which then stops the group in
// order. Outside Linux there is no parent-death signal: a process whose
// test binary dies without stopping it keeps running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
