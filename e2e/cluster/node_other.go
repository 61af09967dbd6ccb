//go:build !linux

package cluster

import "syscall"

// sysProcAttr: only Linux has a parent-death signal; elsewhere the
// cleanups alone stop the nodes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
