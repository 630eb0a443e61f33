// Command shutdowntest answers one question for a release sign-off: does
// this server shut down cleanly while clients are connected, idle and busy?
//
// It starts an embedded model of eMule's Web UI server, opens idle and
// in-flight HTTP, REST and WebSocket clients and silent TCP connections,
// triggers shutdown, records how every client and every server thread
// ended, and checks the record against what a clean shutdown promises.
// Exit status: 0 every check passed, 1 a check failed, 2 bad usage, 3 the
// run could not be carried out, 130 interrupted.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/tui"
)

// Exit statuses a pipeline can rely on.
const (
	exitPass        = 0
	exitFail        = 1
	exitUsage       = 2
	exitNotRun      = 3
	exitInterrupted = 130
)

// interactive is the terminal UI; tests give it pipes.
var interactive = tui.Run

// inTUI is set while the terminal UI runs: a second signal must then
// quit through it, so the terminal is restored, not by os.Exit.
var inTUI atomic.Bool

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quitNow := make(chan struct{})
	// The first signal stops the run gracefully (the target still shuts
	// down and the report is still written); a second exits at once.
	// Lives as long as the process.
	go func() {
		<-sigs
		if !inTUI.Load() {
			fmt.Fprintln(os.Stderr, "shutdowntest: interrupted; stopping the run (again to quit at once)")
		}
		cancel()
		<-sigs
		if inTUI.Load() {
			close(quitNow)
			<-sigs // a third: the view did not quit
		}
		os.Exit(exitInterrupted)
	}()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr, isTerminal(os.Stdout) && isTerminal(os.Stdin), quitNow))
}

// run is the whole program behind main, for tests: it parses args, runs
// the engine (in the terminal UI when tty and not --headless) and writes
// the reports, and returns the exit status. quitNow quits the UI at once.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool, quitNow <-chan struct{}) int {
	if len(args) > 1 && args[1] == "serve" {
		return serve(ctx, args[2:], stdout, stderr)
	}
	opts, err := parseFlags(args[1:], stdout)
	if errors.Is(err, errHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest: %v\n", err)
		return exitUsage
	}
	if opts.version {
		fmt.Fprintln(stdout, "shutdowntest", toolInfo(args).Version)
		return exitPass
	}
	limit, err := load.CheckFileLimit(opts.cfg.Mix)
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest: %v\n", err)
		return exitUsage
	}
	var res *load.Result
	var runErr error
	if tty && !opts.headless {
		inTUI.Store(true)
		final, err := interactive(ctx, tui.Options{Config: opts.cfg, QuitNow: quitNow})
		inTUI.Store(false)
		if err != nil {
			fmt.Fprintf(stderr, "shutdowntest: the terminal UI: %v\n", err)
		}
		if final.Result == nil && err != nil {
			return exitNotRun
		}
		if final.Result == nil {
			fmt.Fprintln(stderr, "shutdowntest: quit before the run had a verdict; no report written")
			return exitInterrupted
		}
		// The view may have changed the policy and the mix: the report
		// and its reproduce command are of the run that was watched.
		opts.adopt(final.Config)
		res, runErr = final.Result, final.Err
	} else {
		progress := func(it load.Iteration) {
			fmt.Fprintf(stderr, "iteration %d/%d: %s\n", it.N, opts.cfg.Iterations, progressLine(&it))
		}
		res, runErr = load.Run(ctx, opts.cfg, load.Observer{Progress: progress})
	}
	return conclude(opts, res, runErr, args, limit, stdout, stderr)
}

// conclude writes the reports and the summary of a run, headless or
// watched, and returns its exit status.
func conclude(opts options, res *load.Result, runErr error, args []string, limit uint64, stdout, stderr io.Writer) int {
	summary := stdout
	if opts.jsonPath == "-" {
		summary = stderr
	}
	info := toolInfo(args)
	info.OpenFileLimit = limit
	rep := reports.Build(res, info)
	all, one := reproduce(opts, progName(args[0]))
	rep.Reproduce.Command = all
	if rep.Verdict == "fail" && len(rep.Iterations) > 1 {
		rep.Reproduce.FirstFailing = one
	}
	if err := writeReports(opts, rep, stdout); err != nil {
		fmt.Fprintf(stderr, "shutdowntest: %v\n", err)
		return exitNotRun
	}
	rep.WriteText(summary)
	if runErr != nil {
		fmt.Fprintf(stderr, "shutdowntest: the run could not be carried out: %v\n", runErr)
		return exitNotRun
	}
	switch {
	case res.Interrupted:
		return exitInterrupted
	case rep.Verdict != "pass":
		return exitFail
	}
	return exitPass
}

// writeReports writes every report asked for, each atomically, so a
// reader never sees half a file. It goes on past a failed one so the
// others still land, and returns the first error.
func writeReports(o options, rep reports.Report, stdout io.Writer) error {
	var first error
	for _, out := range []struct {
		flag, path string
		write      func(io.Writer) error
	}{
		{"json", o.jsonPath, rep.WriteJSON},
		{"junit", o.junitPath, rep.WriteJUnit},
		{"markdown", o.markdownPath, rep.WriteMarkdown},
		{"html", o.htmlPath, rep.WriteHTML},
	} {
		if out.path == "" {
			continue
		}
		var err error
		if out.path == "-" {
			err = out.write(stdout)
		} else {
			var buf bytes.Buffer
			if err = out.write(&buf); err == nil {
				err = reports.WriteFileAtomic(out.path, buf.Bytes())
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("--%s: %w", out.flag, err)
		}
	}
	return first
}
