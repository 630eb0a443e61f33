//go:build unix

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The process paths of an external target, each against a real goserver
// on loopback made to misbehave by one of its flags: what the README
// promises process-exited, port-released and no-admission-after-trigger
// say about it.
func TestExternalProcessPaths(t *testing.T) {
	for _, c := range []struct {
		name   string
		tool   []string // flags before the command
		server []string // goserver's flags
		code   int
		want   map[string]string // check id: status
		detail map[string]string // check id: a part of its detail
		also   func(t *testing.T, it map[string]any, elapsed time.Duration)
	}{{
		name: "exit status other than expected", server: []string{"-exit", "3"}, code: exitFail,
		want:   map[string]string{"process-exited": "fail", "port-released": "pass"},
		detail: map[string]string{"process-exited": "with status 3, want 0 (--expect-exit)"},
	}, {
		name: "exit status expected", tool: []string{"--expect-exit", "3"}, server: []string{"-exit", "3"}, code: exitPass,
		want:   map[string]string{"process-exited": "pass", "port-released": "pass"},
		detail: map[string]string{"process-exited": "with status 3"},
	}, {
		name: "expect none, the trigger leaves it running", server: []string{"-keep-running"}, code: exitPass,
		tool: []string{"--trigger", "http:POST:/admin/shutdown", "--expect-exit", "none", "--drain-timeout", "2s", "--silent", "0"},
		want: map[string]string{"process-exited": "pass", "port-released": "skip", "idle-closed": "pass", "no-admission-after-trigger": "pass"},
		detail: map[string]string{"process-exited": "kept running after the trigger, as --expect-exit none expects",
			"port-released": "--expect-exit none"},
		also: func(t *testing.T, it map[string]any, _ time.Duration) {
			if ex := exitBlock(it); ex["killed"] != true || ex["status"] != nil {
				t.Errorf("exit %v, want killed by the tool at the end", ex)
			}
		},
	}, {
		// It exits some time after its clients have ended (the silent
		// one holds net/http's Shutdown up to 5 s): watched to the
		// deadline, it is seen to.
		name: "expect none, but it exits", tool: []string{"--trigger", "http:POST:/admin/shutdown", "--expect-exit", "none"}, code: exitFail,
		want:   map[string]string{"process-exited": "fail"},
		detail: map[string]string{"process-exited": "but --expect-exit none expected it to keep running"},
	}, {
		name: "keeps running, exit expected", server: []string{"-keep-running"}, code: exitFail,
		tool:   []string{"--trigger", "http:POST:/admin/shutdown", "--drain-timeout", "1s"},
		want:   map[string]string{"process-exited": "fail"},
		detail: map[string]string{"process-exited": "its process group was killed"},
	}, {
		// A forked child keeps the listening socket: the kernel still
		// accepts connections on it and the port cannot be bound. The
		// server itself exits at once, and its exit time is not held
		// back by the child keeping the output pipe open; the child,
		// left in the server's process group, is killed at the end.
		name: "port kept by a forked child", server: []string{"-holder", "30s"}, code: exitFail, tool: []string{"--silent", "0"},
		want: map[string]string{"process-exited": "pass", "port-released": "fail"},
		detail: map[string]string{"port-released": "a connection was accepted, bind: ",
			"process-exited": "with status 0"},
		also: func(t *testing.T, it map[string]any, _ time.Duration) {
			if at, _ := exitBlock(it)["at_ms"].(float64); at <= 0 || at > 1000 {
				t.Errorf("exit at %v ms after the trigger, want the process's own exit (well under a second), not the end of its output", at)
			}
			waitGone(t, holderPID(t, it))
		},
	}, {
		name: "served after the grace", server: []string{"-serve-after-trigger", "1500ms"}, code: exitFail,
		want:   map[string]string{"no-admission-after-trigger": "fail", "process-exited": "pass", "port-released": "pass"},
		detail: map[string]string{"no-admission-after-trigger": "later than the 1s grace"},
	}, {
		name: "served within the grace", server: []string{"-serve-after-trigger", "200ms"}, code: exitPass,
		want:   map[string]string{"no-admission-after-trigger": "pass"},
		detail: map[string]string{"no-admission-after-trigger": "first refused"},
	}, {
		name: "cmd trigger with pid and port", tool: []string{"--trigger", "cmd:kill -TERM {pid} && echo port {port}"}, code: exitPass,
		want: map[string]string{"process-exited": "pass", "port-released": "pass", "idle-closed": "pass"},
		also: func(t *testing.T, it map[string]any, _ time.Duration) {
			tb := it["target"].(map[string]any)
			port := regexp.MustCompile(`:(\d+)$`).FindStringSubmatch(tb["url"].(string))
			d, _ := tb["trigger_detail"].(string)
			want := fmt.Sprintf(`ran "kill -TERM %v && echo port %s": exited 0 (output: "port %s")`, tb["pid"], port[1], port[1])
			if d != want {
				t.Errorf("trigger detail %q, want %q", d, want)
			}
		},
	}, {
		// The group kill reaches the child that keeps the port: it is
		// released once the process is killed.
		name: "killed with its group past the deadline", tool: []string{"--drain-timeout", "1s"},
		server: []string{"-ignore-signals", "-holder", "30s"}, code: exitFail,
		want:   map[string]string{"process-exited": "fail", "port-released": "pass"},
		detail: map[string]string{"process-exited": "its process group was killed"},
		also: func(t *testing.T, it map[string]any, elapsed time.Duration) {
			if exitBlock(it)["killed"] != true {
				t.Errorf("exit %v, want killed", exitBlock(it))
			}
			waitGone(t, holderPID(t, it))
		},
	}, {
		// A child out of the group's reach keeps the output pipe (and
		// the port) for 30 s: the wait for the output ends without it.
		name: "output kept open past the kill", tool: []string{"--drain-timeout", "1s"},
		server: []string{"-ignore-signals", "-holder", "30s", "-holder-own-group"}, code: exitFail,
		want:   map[string]string{"process-exited": "fail", "port-released": "fail"},
		detail: map[string]string{"process-exited": "its process group was killed"},
		also: func(t *testing.T, it map[string]any, elapsed time.Duration) {
			pid := holderPID(t, it)
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			if elapsed > 20*time.Second {
				t.Errorf("the run took %v: the wait for the output was not bounded", elapsed)
			}
			// The holder still has the pipe: nothing of the tool's may
			// still be reading it.
			goleak.VerifyNone(t)
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"--target", "http://127.0.0.1:{port}", "--silent", "1"}, c.tool...), goServer(t, c.server...)...)
			start := time.Now()
			code, rep, checks, out := externalRun(t, args...)
			elapsed := time.Since(start)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			wantStatus(t, checks, c.want, out)
			for id, part := range c.detail {
				if d, _ := checks[id]["detail"].(string); !strings.Contains(d, part) {
					t.Errorf("%s detail %q, want it to contain %q", id, d, part)
				}
			}
			if c.also != nil {
				c.also(t, firstIteration(rep), elapsed)
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}

// --pid: a server the test started itself, not the tool's child. The
// signal trigger goes to it; its exit is seen (its status is not known)
// and its port checked.
func TestExternalPIDPaths(t *testing.T) {
	for _, c := range []struct {
		name    string
		tool    []string
		server  []string
		code    int
		verdict string // process-exited's
		detail  string // a part of its detail
		killed  bool
	}{
		{"signal trigger", []string{"--trigger", "signal:TERM"}, nil, exitPass, "pass", "not the tool's child", false},
		{"cmd trigger with pid", []string{"--trigger", "cmd:kill -INT {pid}"}, nil, exitPass, "pass", "not the tool's child", false},
		{"never exits", []string{"--trigger", "signal:TERM", "--drain-timeout", "1s"}, []string{"-ignore-signals"}, exitFail, "fail",
			"the process was killed (--pid: its group is not the tool's)", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pid, addr, waited := startOwnServer(t, c.server...)
			args := append([]string{"--target", "http://" + addr, "--silent", "1", "--pid", strconv.Itoa(pid)}, c.tool...)
			code, rep, checks, out := externalRun(t, args...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			wantStatus(t, checks, map[string]string{"process-exited": c.verdict}, out)
			if d, _ := checks["process-exited"]["detail"].(string); !strings.Contains(d, c.detail) {
				t.Errorf("process-exited detail %q, want it to contain %q", d, c.detail)
			}
			if c.code == exitPass {
				wantStatus(t, checks, map[string]string{"port-released": "pass", "idle-closed": "pass"}, out)
			}
			it := firstIteration(rep)
			if ex := exitBlock(it); ex["killed"] != c.killed || ex["status"] != nil {
				t.Errorf("exit %v, want killed %v, status unknown", ex, c.killed)
			}
			select {
			case err := <-waited:
				if err != nil && !c.killed {
					t.Errorf("the server: %v, want exit 0 after the trigger", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("the server had not exited 10 s after the run")
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}

// {pid} in a cmd: trigger without a process to name is bad input.
func TestExternalCmdPIDNeedsProcess(t *testing.T) {
	code, out, errs := runArgs(t, "--target", "http://127.0.0.1:80", "--trigger", "cmd:kill {pid}")
	if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--trigger") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line naming --trigger", code, out, errs)
	}
}

// startOwnServer starts goserver as the test's child on a port of the
// kernel's choice and returns its pid and address; waited gets its Wait's
// result (the test reaps it, as a server's own parent would).
func startOwnServer(t *testing.T, args ...string) (int, string, <-chan error) {
	t.Helper()
	cmd := exec.Command(binary(t, "goserver"), append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	waited := make(chan error, 1)
	// Reads the server's output to its end, then reaps it; ends when the
	// server exits (the cleanup kills it if the test did not make it).
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		waited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case a := <-addr:
		return cmd.Process.Pid, a, waited
	case <-time.After(10 * time.Second):
		t.Fatal("goserver did not say where it listens within 10 s")
	}
	return 0, "", nil
}

func exitBlock(it map[string]any) map[string]any {
	return it["target"].(map[string]any)["exit"].(map[string]any)
}

// holderPID is the pid goserver's -holder child printed, from the
// server's output the report keeps.
func holderPID(t *testing.T, it map[string]any) int {
	t.Helper()
	for _, l := range it["target"].(map[string]any)["output"].([]any) {
		if _, p, ok := strings.Cut(l.(string), "holder pid "); ok {
			if pid, err := strconv.Atoi(p); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no holder pid in the server's output %v", it["target"].(map[string]any)["output"])
	return 0
}

// waitGone waits, bounded, for pid to be gone (or a zombie: it has ended
// and only its parent's wait is missing).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the holder %d was still running 5 s after the run: the tool left it behind", pid)
			return
		}
		<-time.After(20 * time.Millisecond)
	}
}
