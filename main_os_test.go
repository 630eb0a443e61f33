//go:build linux

package main

import (
	"strings"
	"testing"

	"shutdowntest/internal/tpcserver"
)

// tpcServer builds testdata/tpcserver (a thread-per-connection C server)
// and returns its command after -- in mode. Without a C compiler the test
// is skipped, except in CI, which must have one.
func tpcServer(t *testing.T, mode string) []string {
	t.Helper()
	return []string{"--", tpcserver.Build(t), "127.0.0.1", "{port}", mode}
}

var tpcRoutes = []string{"--target", "http://127.0.0.1:{port}", "--http-idle", "2", "--silent", "2"}

// osOf is an iteration's os block and its clients' server sides.
func osOf(t *testing.T, rep map[string]any) (map[string]any, []map[string]any) {
	t.Helper()
	it := rep["iterations"].([]any)[0].(map[string]any)
	o, _ := it["os"].(map[string]any)
	if o == nil || o["available"] != true {
		t.Fatalf("no OS samples: %v", it["os"])
	}
	var sides []map[string]any
	for _, c := range it["clients"].([]any) {
		s, _ := c.(map[string]any)["server"].(map[string]any)
		sides = append(sides, s)
	}
	return o, sides
}

// A thread-per-connection server that closes its connections and then
// exits 1 s later: each client row names the thread blocked in read on
// its connection, and the samples show every close while it lived.
func TestExternalOSThreadPerConnection(t *testing.T) {
	code, rep, checks, out := externalRun(t, append(append([]string{}, tpcRoutes...), tpcServer(t, "clean")...)...)
	if code != exitPass {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
	wantStatus(t, checks, map[string]string{"server-closed-connections": "pass", "no-thread-leak": "skip", "idle-closed": "pass"}, out)
	o, sides := osOf(t, rep)
	if o["thread_per_connection"] != true {
		t.Errorf("os block %v: want thread_per_connection", o)
	}
	threads := map[float64]bool{}
	for i, s := range sides {
		if s == nil || s["thread"] == nil || !strings.HasPrefix(s["blocked_in"].(string), "read") || s["socket"] != "gone" {
			t.Errorf("client %d server side %v: want its own thread, blocked in read, socket gone", i+1, s)
			continue
		}
		threads[s["thread"].(float64)] = true
	}
	if len(threads) != len(sides) {
		t.Errorf("threads %v for %d clients: want one each", threads, len(sides))
	}
	if !strings.Contains(out, "os samples: pid ") || !strings.Contains(out, "thread per connection") {
		t.Errorf("the summary lacks the os samples line:\n%s", out)
	}
}

// A server the kernel closes at exit: the samples cannot tell that close
// from the server's own, and the check says so instead of guessing.
func TestExternalOSKernelCloseCannotTell(t *testing.T) {
	_, _, checks, out := externalRun(t, append(append([]string{}, tpcRoutes...), tpcServer(t, "kernel")...)...)
	wantStatus(t, checks, map[string]string{"server-closed-connections": "skip"}, out)
	if d, _ := checks["server-closed-connections"]["detail"].(string); !strings.Contains(d, "cannot tell for 4 of 4") {
		t.Errorf("detail %q, want it to say it cannot tell", d)
	}
}

// A trigger that stops the listener and leaves the process running
// (--expect-exit none): the clean server ends its connection threads, the
// leaky one keeps them, and no-thread-leak names them.
func TestExternalOSThreadLeak(t *testing.T) {
	for _, tc := range []struct {
		mode, leak, closed string
	}{{"clean", "pass", "pass"}, {"leak", "fail", "fail"}} {
		t.Run(tc.mode, func(t *testing.T) {
			args := append(append([]string{}, tpcRoutes...), "--expect-exit", "none", "--trigger", "signal:HUP", "--settle", "300ms", "--drain-timeout", "2s")
			_, _, checks, out := externalRun(t, append(args, tpcServer(t, tc.mode)...)...)
			wantStatus(t, checks, map[string]string{"no-thread-leak": tc.leak, "server-closed-connections": tc.closed, "process-exited": "pass"}, out)
			d, _ := checks["no-thread-leak"]["detail"].(string)
			if tc.leak == "fail" && (!strings.Contains(d, "4 threads and 4 sockets created after the baseline") || !strings.Contains(d, "in read")) {
				t.Errorf("no-thread-leak detail %q: want the 4 connection threads and sockets named", d)
			}
		})
	}
}

// The Go test server multiplexes its connections on a few threads: the
// samples show each client's server socket and no thread per client, and
// the os block says so rather than guess one.
func TestExternalOSGoServerHasNoThreadPerConnection(t *testing.T) {
	args := append([]string{"--target", "http://127.0.0.1:{port}", "--http-idle", "2", "--silent", "1"}, goServer(t)...)
	_, rep, _, out := externalRun(t, args...)
	o, sides := osOf(t, rep)
	if o["thread_per_connection"] != false || !strings.Contains(o["model"].(string), "no thread per client") {
		t.Errorf("os block %v: want no thread per connection, said so\n%s", o, out)
	}
	for i, s := range sides {
		if s == nil || s["thread"] != nil || s["socket"] == "" {
			t.Errorf("client %d server side %v: want a socket state and no thread", i+1, s)
		}
	}
}
