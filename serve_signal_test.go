//go:build unix

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"shutdowntest/target"
)

// The serve tests run `shutdowntest serve` as a process of its own: the
// test binary again, which runs main when helperEnv is set.
const helperEnv = "SHUTDOWNTEST_SERVE_HELPER"

// Bounds of the process tests.
const (
	procWait = 15 * time.Second // for a line on stderr, and for the exit
	httpWait = 10 * time.Second // for one whole HTTP exchange
)

// TestServeHelperProcess is not a test: in the child it is main.
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("runs only as the child of the serve tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Args = append([]string{"shutdowntest"}, args...)
	main() // exits the process
}

// serveProc is one `shutdowntest serve` process and its stderr.
type serveProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string

	mu     sync.Mutex
	lines  []string
	exited chan struct{} // closed once the process was waited for
	code   int
}

// startServe starts `shutdowntest serve args...` and waits for its
// "listening on" line. The cleanup kills the process if it is still
// running and waits for its stderr reader.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestServeHelperProcess$", "--", "serve"}, args...)...)
	// Under -race the child would sleep 1s at exit (GORACE's
	// atexit_sleep_ms), which is not serve's own time.
	cmd.Env = append(os.Environ(), helperEnv+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	p := &serveProc{t: t, cmd: cmd, exited: make(chan struct{})}
	// Reads stderr until the process closes it, then reaps the process;
	// ends with the process, which the cleanup kills if need be.
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(procWait):
			t.Errorf("serve process %d not reaped within %v", cmd.Process.Pid, procWait)
		}
	})
	p.addr = strings.TrimPrefix(p.waitLine("listening on "), "listening on ")
	return p
}

// waitLine waits for a stderr line containing s and returns it.
func (p *serveProc) waitLine(s string) string {
	p.t.Helper()
	deadline := time.Now().Add(procWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			p.t.Fatalf("no line with %q on serve's stderr within %v:\n%s", s, procWait, p.stderr())
		}
		<-tick.C
	}
}

func (p *serveProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *serveProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the process to exit and returns its status and how
// long it took from the call.
func (p *serveProc) waitExit() (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
		return p.code, time.Since(start)
	case <-time.After(procWait):
		p.t.Fatalf("serve did not exit within %v:\n%s", procWait, p.stderr())
		return 0, 0
	}
}

// get is one GET on a connection of its own.
func (p *serveProc) get(path, key string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: httpWait}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

type result struct {
	status int
	body   string
	err    error
}

// underLoad gives a serve process an idle client (a page answered, the
// connection held open) and a slow request that the UI thread holds,
// after checking a page and the REST key. It returns the slow request's
// result, which comes once the server answers or cuts it.
func underLoad(t *testing.T, p *serveProc, slow string) <-chan result {
	t.Helper()
	for _, c := range []struct {
		path, key string
		status    int
	}{
		{"/", "", http.StatusOK},
		{"/api/v1/app", target.DefaultAPIKey, http.StatusOK},
		{"/api/v1/app", "", http.StatusUnauthorized},
		{"/api/v1/app", "wrong", http.StatusUnauthorized},
	} {
		if status, body, err := p.get(c.path, c.key); err != nil || status != c.status {
			t.Fatalf("GET %s with key %q: %d %q %v, want %d", c.path, c.key, status, body, err, c.status)
		}
	}
	idle, err := net.DialTimeout("tcp", p.addr, httpWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idle.Close() })
	_ = idle.SetDeadline(time.Now().Add(httpWait))
	if _, err := io.WriteString(idle, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server answers and half-closes; the client never closes, so
	// its thread lingers until terminate.
	if resp, err := io.ReadAll(idle); err != nil || !strings.HasPrefix(string(resp), "HTTP/1.1 200 ") {
		t.Fatalf("idle client: %v %.80q", err, resp)
	}
	res := make(chan result, 1)
	// Ends when the server answers or cuts the request, or at httpWait.
	go func() {
		status, body, err := p.get(slow, target.DefaultAPIKey)
		res <- result{status, body, err}
	}()
	// The line comes once the UI thread holds the request: the thread is
	// in process, past the shutting-down check.
	p.waitLine("GET " + slow + ": held")
	return res
}

var exitInSummary = regexp.MustCompile(`; exit (\d+)$`)

// summary returns serve's last line and the exit status it promises.
func (p *serveProc) summary() (string, int) {
	p.t.Helper()
	line := p.waitLine("shutdowntest serve: policy ")
	m := exitInSummary.FindStringSubmatch(line)
	if m == nil {
		p.t.Fatalf("summary names no exit status: %s", line)
	}
	n, _ := strconv.Atoi(m[1])
	return line, n
}

// TestServeFixedAnswersInflightThenExits0: on SIGTERM, fixed waits for the
// request the UI thread holds, answers it in full and exits 0.
func TestServeFixedAnswersInflightThenExits0(t *testing.T) {
	p := startServe(t, "--policy", "fixed", "--log-requests")
	res := underLoad(t, p, "/slow?ms=2000")
	p.signal(syscall.SIGTERM)
	code, took := p.waitExit()
	r := <-res
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "Answered after 2000 ms.") {
		t.Errorf("slow request across the shutdown: %d %q %v, want 200", r.status, r.body, r.err)
	}
	line, promised := p.summary()
	t.Logf("exit %d %v after SIGTERM: %s", code, took, line)
	if code != exitPass || promised != code || !strings.Contains(line, "shutdown completed") ||
		!strings.Contains(line, "join-clients ok") || !strings.Contains(line, "returned): none;") {
		t.Errorf("fixed: exit %d, summary %s; want exit 0, completed, no stragglers", code, line)
	}
}

// TestServeLegacyCutsInflightAndExits0 records what legacy does: its
// steps (free TLS, signal, join the listener, close terminate) all end ok
// without waiting for client threads, so the shutdown completes and the
// process exits 0 while the request in flight is cut. The summary names
// the in-flight thread as a straggler; only a client's view catches the
// bug, which is what an external run is for.
func TestServeLegacyCutsInflightAndExits0(t *testing.T) {
	p := startServe(t, "--policy", "legacy", "--log-requests")
	res := underLoad(t, p, "/slow?ms=2000")
	p.signal(syscall.SIGTERM)
	code, took := p.waitExit()
	line, promised := p.summary()
	t.Logf("exit %d %v after SIGTERM: %s", code, took, line)
	if code != exitPass || promised != code || !strings.Contains(line, "shutdown completed") ||
		strings.Contains(line, "join-clients") || strings.Contains(line, "returned): none;") {
		t.Errorf("legacy: exit %d, summary %s; want exit 0, completed, stragglers", code, line)
	}
	if r := <-res; r.err == nil && r.status == http.StatusOK {
		t.Errorf("legacy answered the slow request in full (%q): the process should have exited under it", r.body)
	}
}

// TestServeSecondSignalExits130: a second signal does not wait for the
// join (here a minute-long request and a 10s budget).
func TestServeSecondSignalExits130(t *testing.T) {
	p := startServe(t, "--log-requests")
	res := underLoad(t, p, "/api/v1/slow?ms=60000")
	p.signal(syscall.SIGTERM)
	// Signals do not queue: the second is sent once the first was taken.
	p.waitLine("interrupted")
	p.signal(syscall.SIGINT)
	if code, took := p.waitExit(); code != exitInterrupted {
		t.Errorf("second signal: exit %d after %v, want %d:\n%s", code, took, exitInterrupted, p.stderr())
	}
	if r := <-res; r.err == nil {
		t.Errorf("slow request answered %d %q although the process was gone", r.status, r.body)
	}
}

// TestServeBindFailureExits3: a taken port is exit 3, naming the bind.
func TestServeBindFailureExits3(t *testing.T) {
	p := startServe(t)
	code, _, errs := runServe(t, "--addr", p.addr)
	if code != exitNotRun || !strings.Contains(errs, "bind") {
		t.Errorf("serve on a taken port: exit %d, %q; want 3 naming the bind", code, errs)
	}
	p.signal(syscall.SIGTERM)
	if code, _ := p.waitExit(); code != exitPass {
		t.Errorf("idle serve: exit %d on SIGTERM, want 0:\n%s", code, p.stderr())
	}
}
