//go:build unix

package main

import (
	"strings"
	"testing"
)

// serverChecks are the checks a state endpoint lets the tool judge on an
// external target.
var serverChecks = []string{"terminate-outlived-waiters", "shutdown-completed", "no-thread-leak"}

// serveWithState is the command line of serve as an external target with
// its state endpoint.
func serveWithState(t *testing.T, policy string) []string {
	return []string{"--target", "http://127.0.0.1:{port}", "--state-url", "http://127.0.0.1:{state-port}/state",
		"--slow", "/slow?ms=1500", "--rest", "/api/v1/status", "--ws-path", "/api/v1/events", "-H", "X-API-Key: shutdowntest-key",
		"--", binary(t, "shutdowntest"), "serve", "--policy", policy, "--addr", "127.0.0.1:{port}", "--state-addr", "127.0.0.1:{state-port}"}
}

// legacy run by serve and seen through its state endpoint is caught by the
// same server-side checks as the embedded legacy run: the terminate event
// closed under live client threads, which outlive the shutdown.
func TestExternalServeStateLegacyCaughtAsEmbedded(t *testing.T) {
	_, _, embedded, embOut := externalRun(t, "--policy", "legacy")
	code, rep, checks, out := externalRun(t, serveWithState(t, "legacy")...)
	if code != exitFail {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	for _, id := range serverChecks {
		if checks[id]["status"] != embedded[id]["status"] {
			t.Errorf("%s: external %v (%v), embedded %v (%v)", id, checks[id]["status"], checks[id]["detail"],
				embedded[id]["status"], embedded[id]["detail"])
		}
	}
	wantStatus(t, checks, map[string]string{"terminate-outlived-waiters": "fail", "no-thread-leak": "fail"}, out+embOut)
	if d, _ := checks["terminate-outlived-waiters"]["detail"].(string); !strings.Contains(d, "client threads were alive") &&
		!strings.Contains(d, "client thread was alive") {
		t.Errorf("terminate-outlived-waiters detail %q, want it to name the threads alive at the close", d)
	}
	// The JSON has the threads, and each in-flight client its thread.
	it := firstIteration(rep)
	if th := it["threads"].([]any); len(th) == 0 {
		t.Errorf("no threads in the JSON")
	}
	for _, c := range it["clients"].([]any) {
		cl := c.(map[string]any)
		if cl["role"] == "inflight" && cl["thread"] == nil {
			t.Errorf("in-flight client %v: no thread", cl["id"])
		}
	}
}

// fixed, seen through its state endpoint, passes the server-side checks:
// every client thread exited before terminate closed and before shutdown
// returned.
func TestExternalServeStateFixedPasses(t *testing.T) {
	code, rep, checks, out := externalRun(t, serveWithState(t, "fixed")...)
	if code != exitPass || rep["verdict"] != "pass" {
		t.Errorf("exit %d, verdict %v, want 0 and pass\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checks, map[string]string{"terminate-outlived-waiters": "pass", "shutdown-completed": "pass", "no-thread-leak": "pass"}, out)
	st, _ := firstIteration(rep)["target"].(map[string]any)["state"].(map[string]any)
	if st["final"] != true || st["version"] != 1.0 || !strings.HasPrefix(st["server"].(string), "shutdowntest serve") ||
		!strings.Contains(out, "final record read") {
		t.Errorf("state block %v; summary:\n%s", st, out)
	}
}

// The Go test server through state/nethttp: with its 1001 hook every
// WebSocket handler returns before Shutdown does; without, Shutdown
// returns under the live handler (golang/go#17721), which the state
// endpoint shows as a thread alive at the close and after it.
func TestExternalGoServerState(t *testing.T) {
	state := []string{"--state-url", "http://127.0.0.1:{state-port}/state"}
	for _, c := range []struct {
		args []string
		want string
	}{{[]string{"-ws-going-away"}, "pass"}, {nil, "fail"}} {
		args := append(append(append([]string{}, goServerRoutes...), state...),
			goServer(t, append([]string{"-state-listen", "127.0.0.1:{state-port}"}, c.args...)...)...)
		_, _, checks, out := externalRun(t, args...)
		wantStatus(t, checks, map[string]string{"terminate-outlived-waiters": c.want, "no-thread-leak": c.want,
			"shutdown-completed": "pass", "inflight-completed": "pass"}, out)
	}
}

// Without --state-url the server-side checks still skip, and say what
// would let them judge.
func TestExternalWithoutStateSkipsSayingHow(t *testing.T) {
	args := append([]string{"--target", "http://127.0.0.1:{port}", "--silent", "0"}, goServer(t)...)
	_, _, checks, out := externalRun(t, args...)
	for _, id := range serverChecks {
		if d, _ := checks[id]["detail"].(string); checks[id]["status"] != "skip" || !strings.Contains(d, "--state-url") {
			t.Errorf("%s: %v %q, want skip naming --state-url\n%s", id, checks[id]["status"], d, out)
		}
	}
}

// A bad --state-url or --state-addr is one line naming the flag, exit 2.
func TestStateFlagsExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--state-url", "http://127.0.0.1:1/state"}, "--state-url"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--state-url", "ftp://127.0.0.1:1/state"}, "--state-url"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--state-url", "http://192.0.2.1:1/state"}, "--state-url"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--state-url", "http://127.0.0.1:{port/state"}, "--state-url"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.flag) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line naming %s", c.args, code, out, errs, c.flag)
		}
	}
	code, out, errs := runServe(t, "--state-addr", "10.0.0.1:0")
	if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--state-addr") {
		t.Errorf("serve --state-addr 10.0.0.1:0: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
