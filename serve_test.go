package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// runServe runs `shutdowntest serve args...` in this process with its
// context already cancelled, as if SIGTERM had come: a server that should
// not have started shuts down at once instead of serving forever.
func runServe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"shutdowntest", "serve"}, args...), &out, &errb, false, nil)
	return code, out.String(), errb.String()
}

func TestServeBadFlagsExit2WithOneLineNamingTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"--policy", "nope"}, "--policy"},
		// Refused from the literal host, before any bind: a bind to an
		// address this machine does not have would fail with exit 3.
		// Names are left to TestCheckListenAddr: were the check broken,
		// a name here would be looked up.
		{[]string{"--addr", "10.0.0.1:0"}, "--addr"},
		{[]string{"--addr", "0.0.0.0:0"}, "--addr"},
		{[]string{"--addr", "[::]:0"}, "--addr"},
		{[]string{"--addr", ":0"}, "--addr"},
		{[]string{"--addr", "127.0.0.1"}, "--addr"},
		{[]string{"--addr", "127.0.0.1:http"}, "--addr"},
		{[]string{"--addr", "127.0.0.1:65536"}, "--addr"},
		{[]string{"--allow-remote", "--addr", "10.0.0.1"}, "--addr"},
		{[]string{"--api-key", ""}, "--api-key"},
		{[]string{"--drain-timeout", "0s"}, "--drain-timeout"},
		{[]string{"--drain-timeout", "10"}, "drain-timeout"},
		{[]string{"--inflight-for", "-1s"}, "--inflight-for"},
		{[]string{"--headless"}, "--headless"},
		{[]string{"now"}, "unexpected argument"},
	}
	for _, c := range cases {
		code, out, errs := runServe(t, c.args...)
		if code != exitUsage {
			t.Errorf("serve %v: exit %d, want 2", c.args, code)
		}
		if out != "" {
			t.Errorf("serve %v: wrote to stdout: %q", c.args, out)
		}
		if strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.flag) || strings.Contains(errs, "listening") {
			t.Errorf("serve %v: stderr %q, want one line naming %s", c.args, errs, c.flag)
		}
	}
}

func TestServeHelp(t *testing.T) {
	code, out, errs := runServe(t, "--help")
	if code != exitPass || errs != "" {
		t.Fatalf("serve --help: exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"Usage:\n  shutdowntest serve", "--api-key", `(default "` + target.DefaultAPIKey + `")`,
		"--allow-remote", "/api/v1/slow?ms=N", "Exit status:"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true},
		{"127.1.2.3:8080", false, true},
		{"[::1]:0", false, true},
		{"localhost:0", false, true},
		{"LocalHost:0", false, true},
		{"[::ffff:127.0.0.1]:0", false, true},
		{"10.0.0.1:0", false, false},
		{"192.168.1.1:80", false, false},
		{"0.0.0.0:0", false, false},
		{"[::]:0", false, false},
		{":0", false, false},
		{"localhost.example.com:0", false, false},
		{"[fe80::1%lo]:0", false, false},
		{"10.0.0.1:0", true, true},
		{":0", true, true},
		{"10.0.0.1", true, false},
		{"127.0.0.1:-1", false, false},
	} {
		if err := checkListenAddr(c.addr, c.remote); (err == nil) != c.ok {
			t.Errorf("checkListenAddr(%q, allow remote %v): %v, want ok %v", c.addr, c.remote, err, c.ok)
		}
	}
}

func TestShutdownSummary(t *testing.T) {
	rec := target.ShutdownRecord{Policy: target.PolicyFixed, Trigger: time.Second, Returned: 3 * time.Second, Steps: []target.Step{
		{Name: "signal-terminate", Outcome: target.StepOK},
		{Name: "join-clients", Outcome: target.StepTimeout, Detail: "1 of 2 client threads still alive after 2s: [7]"},
		{Name: "close-terminate", Outcome: target.StepKeptOpen},
	}}
	var r target.Record
	for id := 1; id <= 13; id++ {
		// Thread 1 exited before the return; 2 after it; the rest never.
		th := kernel.ThreadRecord{ID: id, Client: true, Exited: id <= 2, ExitedAt: time.Duration(id) * 2 * time.Second}
		r.Kernel.Threads = append(r.Kernel.Threads, th)
	}
	r.Kernel.Threads = append(r.Kernel.Threads, kernel.ThreadRecord{ID: 99, Name: "listener"})
	got := shutdownSummary(rec, r, exitFail)
	want := "shutdowntest serve: policy fixed: shutdown did not complete in 2s (signal-terminate ok, " +
		"join-clients timeout: 1 of 2 client threads still alive after 2s: [7], close-terminate kept-open); " +
		"stragglers (client threads alive when it returned): 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, and 2 more; exit 1"
	if got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
	rec.Steps = rec.Steps[:1]
	if got := shutdownSummary(rec, target.Record{}, exitPass); !strings.Contains(got, "shutdown completed in 2s (signal-terminate ok); stragglers (client threads alive when it returned): none; exit 0") {
		t.Errorf("summary of a completed shutdown: %s", got)
	}
}
