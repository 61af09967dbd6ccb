package cluster

import "syscall"

// sysProcAttr asks the kernel to kill a node when the test binary dies
// without running its cleanups (a timeout's panic, a kill): no node
// outlives its run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
