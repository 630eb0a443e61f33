package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// contractParallel is how many cells run at once: most of a cell's time
// is a budget running out, not work, so more than the cores fit.
const contractParallel = 6

// contractIterations is how many iterations each cell runs:
// SHUTDOWNTEST_CONTRACT_ITERATIONS, default 1 (30 to measure a cell's
// steadiness by hand).
func contractIterations(t *testing.T) int {
	s := os.Getenv("SHUTDOWNTEST_CONTRACT_ITERATIONS")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("SHUTDOWNTEST_CONTRACT_ITERATIONS=%q: want a count of 1 or more", s)
	}
	return n
}

// cellResult is what one cell's run came to.
type cellResult struct {
	code   int
	report reports.Report
	stderr string
	took   time.Duration
}

// TestContract runs every cell of the policy × fault contract through the
// whole program (flags, engine, checks, exit status) with the contract's
// short budgets, each on its own free port, several at once, and holds
// each iteration to its cell: the checks that fail are exactly the cell's
// (with its may-fail ones allowed), or the run is not carried out.
func TestContract(t *testing.T) {
	n := contractIterations(t)
	results := make([]cellResult, len(reports.Contract))
	sem := make(chan struct{}, contractParallel)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range reports.Contract {
		args := append(append([]string{"shutdowntest", "--headless"}, c.Flags()...),
			"--drain-timeout", reports.ContractDrainTimeout.String(), "--inflight-for", reports.ContractInflightFor.String(),
			"--iterations", strconv.Itoa(n), "--json", "-")
		wg.Add(1)
		// Each cell's run is bounded by its budgets and the engine's
		// deadlines; the test waits for every one below.
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var out, errb bytes.Buffer
			t0 := time.Now()
			code := runCell(args, n, &out, &errb)
			res := cellResult{code: code, stderr: errb.String(), took: time.Since(t0)}
			if err := json.Unmarshal(out.Bytes(), &res.report); err != nil {
				res.stderr += fmt.Sprintf("\n(the JSON report did not parse: %v)", err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	t.Logf("%d cells × %d iteration(s) in %v", len(results), n, time.Since(start).Round(time.Millisecond))
	for i, c := range reports.Contract {
		t.Run(string(c.Policy)+"/"+c.FaultName(), func(t *testing.T) {
			res := results[i]
			t.Logf("%s in %v", c.Verdict(), res.took.Round(time.Millisecond))
			if c.NotRun {
				if res.code != exitNotRun || res.report.Verdict != reports.VerdictError {
					t.Errorf("exit %d, verdict %q: want not run (exit %d, error); stderr %s", res.code, res.report.Verdict, exitNotRun, res.stderr)
				}
				return
			}
			want := []int{exitPass}
			switch {
			case len(c.Fails) > 0:
				want = []int{exitFail}
			case len(c.MayFail) > 0:
				want = []int{exitPass, exitFail}
			}
			if !slices.Contains(want, res.code) {
				t.Errorf("exit %d, want one of %v for %s; stderr %s", res.code, want, c.Verdict(), res.stderr)
			}
			if len(res.report.Iterations) != n {
				t.Fatalf("%d iterations reported, want %d; stderr %s", len(res.report.Iterations), n, res.stderr)
			}
			for _, it := range res.report.Iterations {
				var failed []string
				for _, ch := range it.Checks {
					if ch.Status == reports.StatusFail {
						failed = append(failed, ch.ID)
					}
				}
				var missing, extra []string
				for _, id := range c.Fails {
					if !slices.Contains(failed, id) {
						missing = append(missing, id)
					}
				}
				for _, id := range failed {
					if !slices.Contains(c.Fails, id) && !slices.Contains(c.MayFail, id) {
						extra = append(extra, id+": "+detailOf(it.Checks, id))
					}
				}
				if len(missing) > 0 || len(extra) > 0 {
					t.Errorf("iteration %d: failed %v; not failed but in the table: %v; failed but not in it: %s",
						it.N, failed, missing, strings.Join(extra, "; "))
				}
			}
		})
	}
}

// cellEnv carries a cell's arguments to TestContractCell in a process of
// its own.
const cellEnv = "SHUTDOWNTEST_CONTRACT_CELL"

// runCell runs the program with args in a process of its own (this test
// binary, TestContractCell): the fd cross-check counts the whole
// process's sockets, so cells that run at once must not share one. It
// returns the exit status; stdout and stderr are the program's.
func runCell(args []string, iterations int, stdout, stderr *bytes.Buffer) int {
	// A cell's iteration ends by its observation deadline (about 2 s);
	// this bounds a process that hangs past every one of them.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(iterations)*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestContractCell$")
	cmd.Env = append(os.Environ(), cellEnv+"="+strings.Join(args, "\n"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintf(stderr, "(the cell's process did not run: %v)", err)
	return -1
}

// TestContractCell is one cell's run, in the process runCell starts; it
// does nothing in a plain test run.
func TestContractCell(t *testing.T) {
	args := os.Getenv(cellEnv)
	if args == "" {
		t.Skip("runs only as a cell of TestContract")
	}
	os.Exit(run(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr, false, nil))
}

func detailOf(checks []reports.Check, id string) string {
	for _, c := range checks {
		if c.ID == id {
			return c.Detail
		}
	}
	return ""
}

// The contract covers every policy with no fault and with each fault,
// once, and README.md holds it as reports.ContractMarkdown writes it.
func TestContractTableIsComplete(t *testing.T) {
	seen := map[string]int{}
	for _, c := range reports.Contract {
		seen[string(c.Policy)+"/"+c.FaultName()]++
	}
	for _, p := range target.Policies {
		for _, f := range append([]target.Fault{""}, load.Faults...) {
			name := string(p) + "/" + reports.Cell{Fault: f}.FaultName()
			if seen[name] != 1 {
				t.Errorf("cell %s appears %d times in reports.Contract, want once", name, seen[name])
			}
			delete(seen, name)
		}
	}
	for name := range seen {
		t.Errorf("cell %s is no policy × fault", name)
	}
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\n"+reports.ContractMarkdown()) {
		t.Errorf("README.md does not hold the contract table as reports.ContractMarkdown writes it:\n%s", reports.ContractMarkdown())
	}
}
