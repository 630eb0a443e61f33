//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedTest runs two runners as two processes against one serve of
// policy, with a shared --trigger-at about a second ahead: r0 triggers
// (SIGTERM to serve's pid), r1 only observes; both are given extra. It
// merges their reports and returns merge's exit status, the merged report,
// the runners' reports and the output.
func sharedTest(t *testing.T, policy string, extra ...string) (int, map[string]any, []map[string]any, string) {
	bin := binary(t, "shutdowntest") // built before the instant is set
	serve := startServe(t, "--policy", policy, "--addr", "127.0.0.1:0")
	addr, pid := serve.addr, serve.cmd.Process.Pid
	dir := t.TempDir()
	at := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	common := []string{"--headless", "--target", "http://" + addr, "--trigger-at", at, "--drain-timeout", "8s",
		"--slow", "/slow?ms=3000", "--rest", "/api/v1/status", "--ws-path", "/api/v1/events", "-H", "X-API-Key: shutdowntest-key"}
	runners := [][]string{
		{"--runner-id", "r0", "--trigger", "signal:TERM", "--pid", strconv.Itoa(pid)},
		{"--runner-id", "r1", "--trigger", "none"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outs := make([]string, len(runners))
	var wg sync.WaitGroup
	var files []string
	for i, r := range runners {
		file := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		files = append(files, file)
		args := append(append(append(append([]string{}, common...), extra...), r...), "--json", file)
		wg.Add(1)
		// One runner process, bounded by ctx.
		go func() {
			defer wg.Done()
			b, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			outs[i] = string(b)
		}()
	}
	wg.Wait()
	select {
	case <-serve.exited:
		if serve.code != exitPass {
			t.Errorf("serve exit %d, want 0 (both policies' steps complete):\n%s", serve.code, serve.stderr())
		}
	case <-time.After(procWait):
		t.Fatalf("serve did not exit within %v of the runners' end:\n%s\n%s", procWait, serve.stderr(), strings.Join(outs, "\n---\n"))
	}
	merged := filepath.Join(dir, "merged.json")
	// Every writer takes the merged report (a report not written is exit 4).
	code, stdout, stderr := runArgs(t, append([]string{"merge", "--json", merged, "--html", filepath.Join(dir, "m.html"),
		"--junit", filepath.Join(dir, "m.xml"), "--markdown", filepath.Join(dir, "m.md")}, files...)...)
	out := strings.Join(outs, "\n---\n") + "\n--- merge:\n" + stdout + stderr
	rep := readJSONFile(t, merged, fmt.Sprintf("merge exit %d", code), out)
	var runs []map[string]any
	for _, f := range files {
		runs = append(runs, readJSONFile(t, f, "runner", out))
	}
	return code, rep, runs, out
}

// readJSONFile reads the JSON report file; what says what wrote it.
func readJSONFile(t *testing.T, file, what, out string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%s, no report: %v\n%s", what, err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// Two runners against one fixed serve, each with steady traffic: the
// merged report holds both runners' clients on one axis and both runners'
// requests, and passes.
func TestSharedTriggerAtFixedPasses(t *testing.T) {
	code, rep, runs, out := sharedTest(t, "fixed", "--rate", "100")
	if code != exitPass || rep["verdict"] != "pass" {
		t.Errorf("merge exit %d, verdict %v, want 0 and pass\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checksOf(rep), map[string]string{"inflight-completed": "pass", "process-exited": "pass",
		"no-admission-after-trigger": "pass"}, out)
	per := map[string]int{}
	ids := map[float64]bool{}
	for _, cl := range clientsOf(rep) {
		per[cl["runner"].(string)]++
		ids[cl["id"].(float64)] = true
	}
	if per["r0"] == 0 || per["r0"] != per["r1"] || len(ids) != per["r0"]+per["r1"] {
		t.Errorf("clients by runner %v, %d distinct ids: want both runners' clients, ids unique\n%s", per, len(ids), out)
	}
	runners := rep["runners"].([]any)
	if len(runners) != 2 || runners[0].(map[string]any)["trigger"] != "signal:TERM" || runners[1].(map[string]any)["trigger"] != "none" {
		t.Errorf("runners %v", runners)
	}
	// serve sends Date, so each runner put its clock on the server's.
	for _, r := range runners {
		if clock := r.(map[string]any)["clock"].(map[string]any); clock["known"] != true {
			t.Errorf("runner %v: clock %v, want known from the server's Date", r.(map[string]any)["id"], clock)
		}
	}
	requests := func(rep map[string]any) float64 {
		r, _ := firstIteration(rep)["rate"].(map[string]any)
		n, _ := r["requests"].(float64)
		return n
	}
	if a, b, m := requests(runs[0]), requests(runs[1]), requests(rep); a == 0 || b == 0 || m != a+b {
		t.Errorf("rate requests: r0 %g, r1 %g, merged %g: want both runners' in the merged\n%s", a, b, m, out)
	}
}

// legacy cuts the requests in flight: merged, the runners' reports fail
// inflight-completed, and merge exits 1.
func TestSharedTriggerAtLegacyCaught(t *testing.T) {
	code, rep, _, out := sharedTest(t, "legacy")
	if code != exitFail || rep["verdict"] != "fail" {
		t.Errorf("merge exit %d, verdict %v, want 1 and fail\n%s", code, rep["verdict"], out)
	}
	c := checksOf(rep)["inflight-completed"]
	if c["status"] != "fail" || !strings.Contains(c["detail"].(string), "failed on runner r0, r1 of 2") {
		t.Errorf("inflight-completed %v: %v, want failed on both runners\n%s", c["status"], c["detail"], out)
	}
}
