package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one portcullis process: its configuration file, its listeners
// and its log. A node can be stopped and started again on the same ports.
type Node struct {
	// Name is authz-1, gw-2, ...
	Name string
	// Roles are the node's --roles.
	Roles string
	// ConfigPath is the node's YAML file.
	ConfigPath string
	// AuthzURL, GatewayURL and AdminURL are the node's listeners
	// (http://127.0.0.1:PORT); only those of its roles answer.
	AuthzURL, GatewayURL, AdminURL string

	bin     string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// Start starts the process; it does not wait for readiness.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && !closed(n.done) {
		return fmt.Errorf("%s is already running", n.Name)
	}
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, "serve", "--config", n.ConfigPath, "--roles", n.Roles)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done = cmd, done
	go func() {
		err := cmd.Wait()
		log.Close()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// WaitReady polls /readyz until it answers 200, the process exits or ctx
// ends.
func (n *Node) WaitReady(ctx context.Context) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	for {
		if code, _ := n.Ready(ctx); code == http.StatusOK {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v", n.Name, n.ExitErr())
		case <-ctx.Done():
			code, body := n.Ready(context.Background())
			return fmt.Errorf("%s not ready (%d %s): %w", n.Name, code, body, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready returns the status and body of the node's /readyz (0 when it
// does not answer).
func (n *Node) Ready(ctx context.Context) (int, string) {
	code, body, err := get(ctx, n.AdminURL+"/readyz")
	if err != nil {
		return 0, err.Error()
	}
	return code, body
}

// Signal sends sig to the process.
func (n *Node) Signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return fmt.Errorf("%s is not running", n.Name)
	}
	return n.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (n *Node) Kill() {
	_ = n.Signal(syscall.SIGKILL)
	_, _ = n.Wait(10 * time.Second)
}

// Wait waits up to d for the process to exit and returns its exit code.
func (n *Node) Wait(d time.Duration) (int, error) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return 0, fmt.Errorf("%s was never started", n.Name)
	}
	select {
	case <-done:
	case <-time.After(d):
		return -1, fmt.Errorf("%s still running after %v", n.Name, d)
	}
	return cmd.ProcessState.ExitCode(), nil
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !closed(n.done)
}

// ExitErr is how the process ended (nil while it runs or after exit 0).
func (n *Node) ExitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// PID is the process id; 0 when it is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil || closed(n.done) {
		return 0
	}
	return n.cmd.Process.Pid
}

// Metric reads a gauge or counter without labels from the node's
// /metrics (Prometheus text format).
func (n *Node) Metric(ctx context.Context, name string) (float64, error) {
	code, body, err := get(ctx, n.AdminURL+"/metrics")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("%s /metrics: status %d", n.Name, code)
	}
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s /metrics has no %s", n.Name, name)
}

// RSS is the process's resident set in KiB (VmRSS of /proc/PID/status).
func (n *Node) RSS() (int64, error) {
	pid := n.PID()
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", n.Name)
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// Log returns the node's log so far (every start appends to it).
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.logPath)
	return string(b)
}

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string {
	b := bytes.TrimRight([]byte(n.Log()), "\n")
	parts := bytes.Split(b, []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return string(bytes.Join(parts, []byte("\n")))
}

// get fetches u and returns its status and body.
func get(ctx context.Context, u string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// probeClient keeps no idle connections, so a probe never reuses a
// connection to a node that has just stopped.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
