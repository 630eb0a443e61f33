//go:build unix

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"shutdowntest/internal/testbin"
)

// The external-target tests launch real servers on loopback: the Go
// net/http server of testdata/goserver, and this tool's own serve, each
// built once per test binary.
func binary(t *testing.T, name string) string {
	t.Helper()
	bin, err := testbin.Build(map[string]string{"goserver": "testdata/goserver", "shutdowntest": "."}[name])
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// externalRun runs the tool against a launched server and returns its exit
// status and JSON report (decoded), checks by id.
func externalRun(t *testing.T, args ...string) (int, map[string]any, map[string]map[string]any, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.json")
	all := append([]string{"--headless", "--drain-timeout", "8s", "--ready-timeout", "10s", "--json", path}, args...)
	code, stdout, stderr := runArgs(t, all...)
	rep := readJSONFile(t, path, fmt.Sprintf("exit %d", code), stdout+stderr)
	checks := checksOf(rep)
	return code, rep, checks, stdout + stderr
}

// firstIteration is a decoded report's first iteration.
func firstIteration(rep map[string]any) map[string]any {
	return rep["iterations"].([]any)[0].(map[string]any)
}

// checksOf are the checks of a decoded report's first iteration, by id;
// none if it has no iteration.
func checksOf(rep map[string]any) map[string]map[string]any {
	checks := map[string]map[string]any{}
	if its := rep["iterations"].([]any); len(its) > 0 {
		for _, c := range its[0].(map[string]any)["checks"].([]any) {
			m := c.(map[string]any)
			checks[m["id"].(string)] = m
		}
	}
	return checks
}

func wantStatus(t *testing.T, checks map[string]map[string]any, want map[string]string, out string) {
	t.Helper()
	for id, st := range want {
		if got := checks[id]["status"]; got != st {
			t.Errorf("%s: %v, want %s (%v)", id, got, st, checks[id]["detail"])
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// goServer is the Go test server's command after --.
func goServer(t *testing.T, args ...string) []string {
	return append([]string{"--", binary(t, "goserver"), "-listen", "127.0.0.1:{port}"}, args...)
}

var goServerRoutes = []string{"--target", "http://127.0.0.1:{port}", "--slow", "/slow?ms=1500", "--rest", "/api", "--ws-path", "/ws", "--silent", "0"}

// A Go server whose Shutdown sends its WebSocket clients 1001 passes
// every externally observable check; the in-flight requests complete
// (Shutdown waits for them), and what cannot be seen is skipped.
func TestExternalGoServerPasses(t *testing.T) {
	args := append(append([]string{}, goServerRoutes...), goServer(t, "-ws-going-away")...)
	code, rep, checks, out := externalRun(t, args...)
	if code != exitPass || rep["verdict"] != "pass" {
		t.Errorf("exit %d, verdict %v, want 0 and pass\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checks, map[string]string{
		"inflight-completed": "pass", "idle-closed": "pass", "ws-close-going-away": "pass",
		"no-admission-after-trigger": "pass", "process-exited": "pass", "port-released": "pass",
		"terminate-outlived-waiters": "skip", "shutdown-completed": "skip", "no-thread-leak": "skip",
		"routing-unchanged": "skip", "resources-released": "skip", "no-kernel-violations": "skip",
	}, out)
	tb := firstIteration(rep)["target"].(map[string]any)
	if tb["kind"] != "external" || tb["exit"].(map[string]any)["status"] != 0.0 || tb["exit"].(map[string]any)["killed"] != false {
		t.Errorf("target block %v", tb)
	}
	if !strings.Contains(out, "server output (last") || !strings.Contains(out, "shutting down (terminated)") {
		t.Errorf("the summary lacks the server's output:\n%s", out)
	}
}

// Without the OnShutdown hook, http.Server.Shutdown ignores hijacked
// connections (golang/go#17721): the WebSocket clients see the process
// exit, 1006, and ws-close-going-away fails saying so.
func TestExternalGoServerWithout1001Fails(t *testing.T) {
	args := append(append([]string{}, goServerRoutes...), goServer(t)...)
	code, _, checks, out := externalRun(t, args...)
	if code != exitFail {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	wantStatus(t, checks, map[string]string{"ws-close-going-away": "fail", "inflight-completed": "pass", "process-exited": "pass"}, out)
	if d, _ := checks["ws-close-going-away"]["detail"].(string); !strings.Contains(d, "ws-close-1006") {
		t.Errorf("ws-close-going-away detail %q, want it to name ws-close-1006", d)
	}
}

// A server that ignores the signal is killed with its process group past
// --drain-timeout, and process-exited fails.
func TestExternalServerThatNeverExitsIsKilled(t *testing.T) {
	args := append([]string{"--target", "http://127.0.0.1:{port}", "--silent", "0", "--drain-timeout", "1s"}, goServer(t, "-ignore-signals")...)
	code, rep, checks, out := externalRun(t, args...)
	if code != exitFail {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	wantStatus(t, checks, map[string]string{"process-exited": "fail"}, out)
	exit := exitBlock(firstIteration(rep))
	if exit["killed"] != true {
		t.Errorf("exit %v, want killed", exit)
	}
}

// An HTTP trigger: the Go server's POST /admin/shutdown.
func TestExternalHTTPTrigger(t *testing.T) {
	args := append([]string{"--target", "http://127.0.0.1:{port}", "--silent", "0", "--trigger", "http:POST:/admin/shutdown"}, goServer(t)...)
	code, _, checks, out := externalRun(t, args...)
	if code != exitPass {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
	wantStatus(t, checks, map[string]string{"idle-closed": "pass", "process-exited": "pass", "port-released": "pass"}, out)
}

// An in-flight route that answers before the trigger proves nothing: the
// run is an error (exit 3) saying the slow path is too fast.
func TestExternalSlowPathTooFast(t *testing.T) {
	args := append([]string{"--target", "http://127.0.0.1:{port}", "--silent", "0", "--slow", "/slow?ms=0", "--http-idle", "0"}, goServer(t)...)
	code, rep, _, out := externalRun(t, args...)
	if code != exitNotRun || rep["verdict"] != "error" || !strings.Contains(out, "too fast") {
		t.Errorf("exit %d, verdict %v, want 3, error, too fast\n%s", code, rep["verdict"], out)
	}
}

// shutdowntest serve, the eMule model as a process of its own: fixed
// passes every externally observable check. It closes every connection
// after its response (Connection: close), so the idle clients are
// reported as closed after the response and idle-closed judges the
// silent one; its WebSocket stream needs the key (-H).
func TestExternalServeFixedPasses(t *testing.T) {
	args := []string{"--target", "http://127.0.0.1:{port}", "--slow", "/slow?ms=1500", "--rest", "/api/v1/status",
		"--ws-path", "/api/v1/events", "-H", "X-API-Key: shutdowntest-key",
		"--", binary(t, "shutdowntest"), "serve", "--policy", "fixed", "--addr", "127.0.0.1:{port}"}
	code, rep, checks, out := externalRun(t, args...)
	if code != exitPass || rep["verdict"] != "pass" {
		t.Errorf("exit %d, verdict %v, want 0 and pass\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checks, map[string]string{
		"inflight-completed": "pass", "idle-closed": "pass", "ws-close-going-away": "pass",
		"no-admission-after-trigger": "pass", "process-exited": "pass", "port-released": "pass",
	}, out)
	for _, cl := range clientsOf(rep) {
		if cl["role"] == "idle" && (cl["outcome"] != "closed-after-response" || strings.Contains(cl["detail"].(string), "((")) {
			t.Errorf("idle client %v: %v (%v), want closed-after-response", cl["id"], cl["outcome"], cl["detail"])
		}
	}
}

// Bad external input is one line naming the flag, exit 2, before anything
// runs; a target that is not loopback is refused from its literal host,
// with no name lookup and no connection.
func TestExternalBadFlagsExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--target", "http://192.0.2.1:80", "--trigger", "http:POST:/x"}, "--target"},
		{[]string{"--target", "http://example.invalid:80", "--trigger", "http:POST:/x"}, "--target"},
		{[]string{"--target", "https://127.0.0.1:80", "--trigger", "http:POST:/x"}, "--target"},
		{[]string{"--target", "http://127.0.0.1:80/sub", "--trigger", "http:POST:/x"}, "--target"},
		{[]string{"--target", "http://127.0.0.1:80"}, "--trigger"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "signal:TERM"}, "--trigger"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "signal:KILLALL", "--pid", "1"}, "--trigger"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:post:/x"}, "--trigger"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "bogus"}, "--trigger"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--http-inflight", "1"}, "--http-inflight"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--ws", "2"}, "--ws"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--policy", "legacy"}, "--policy"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--jitter", "5ms"}, "--jitter"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--hostile", "1"}, "--hostile"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--garbage", "1"}, "--garbage"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "-H", "no colon"}, "--header"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--expect-exit", "x"}, "--expect-exit"},
		{[]string{"--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x", "--slow", "slow"}, "--slow"},
		{[]string{"--target", "http://127.0.0.1:{port}", "--pid", "1", "--", "true"}, "--pid"},
		{[]string{"--trigger", "signal:TERM"}, "--trigger"},
		{[]string{"--slow", "/x"}, "--slow"},
		{[]string{"--", "./server"}, "--target"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.flag) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line naming %s", c.args, code, out, errs, c.flag)
		}
	}
}

// legacy, run as a process of its own, exits 0 (its steps complete) while
// it cuts the request in flight: the external run catches what its exit
// status does not say.
func TestExternalServeLegacyCaught(t *testing.T) {
	args := []string{"--target", "http://127.0.0.1:{port}", "--slow", "/slow?ms=1500", "--silent", "0",
		"--", binary(t, "shutdowntest"), "serve", "--policy", "legacy", "--addr", "127.0.0.1:{port}"}
	code, _, checks, out := externalRun(t, args...)
	if code != exitFail {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	wantStatus(t, checks, map[string]string{"inflight-completed": "fail", "process-exited": "pass"}, out)
}
