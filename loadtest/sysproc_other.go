//go:build !linux

package main

import "syscall"

// childAttr leaves a child's process attributes as they are: outside
// Linux the harness relies on stopping its children itself.
func childAttr() *syscall.SysProcAttr { return nil }
