package main

import "syscall"

// childAttr puts a child in its own process group, so that the terminal's
// Ctrl-C reaches the harness alone and the harness stops the child in
// order, and has the kernel kill the child should the harness die
// without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
