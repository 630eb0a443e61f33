// Command shutdowntest answers one question for a release sign-off: does
// this server shut down cleanly while clients are connected, idle and busy?
//
// It starts an embedded model of eMule's Web UI server, opens idle and
// in-flight HTTP, REST and WebSocket clients and silent TCP connections,
// triggers shutdown, records how every client and every server thread
// ended, and checks the record against what a clean shutdown promises.
// Exit status: 0 every check passed, 1 a check failed, 2 bad usage, 3 the
// run could not be carried out, 4 the verdict was reached but a report
// could not be written, 130 interrupted. When several apply, the first of
// 130, 3, 4, 1 wins: 4 wins over a verdict because the verdict is still in
// the printed summary while the missing report is only in the status, and
// a pipeline that tests for 0 fails on 4 as it does on 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	exitNoReport    = 4 // the verdict was reached, a report could not be written
	exitInterrupted = 130
)

// interactive is the terminal UI; tests give it pipes.
var interactive = tui.Run

// inTUI is set while the terminal UI runs: a second signal must then
// quit through it, so the terminal is restored, not by os.Exit.
var inTUI atomic.Bool

// writing is the report files of the current run, so that a second
// signal, which exits at once, can abandon them (see quitAtOnce).
var writing atomic.Pointer[reports.Batch]

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
		quitAtOnce(os.Stderr)
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
	if len(args) > 1 && args[1] == "merge" {
		return merge(args, stdout, stderr)
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
	limit, err := load.CheckFileLimit(opts.cfg.Mix, opts.cfg.External != nil)
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest: %v\n", err)
		return exitUsage
	}
	serverLog, err := openServerLog(opts)
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest: %v\n", err)
		return exitUsage
	}
	if serverLog != nil {
		defer serverLog.Close()
	}
	out := opts.newBatch(stdout, stderr)
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
		of := fmt.Sprintf("/%d", opts.cfg.Iterations)
		if opts.cfg.Iterations == 0 {
			of = " of a " + opts.cfg.For.String() + " soak"
		}
		progress := func(it load.Iteration) {
			fmt.Fprintf(stderr, "iteration %d%s: %s\n", it.N, of, progressLine(&it))
		}
		// The address, as soon as the server listens, so that a person
		// can point something at it while it runs.
		listening := func(_ int, addr string) { fmt.Fprintf(stderr, "listening on %s\n", addr) }
		res, runErr = load.Run(ctx, opts.cfg, load.Observer{Progress: progress, Listening: listening})
	}
	return conclude(opts, res, runErr, args, limit, out, stdout, stderr)
}

// newBatch is the report files to write, known to a second signal (which
// abandons them, see quitAtOnce); a report path that is stdout or stderr
// through links is appended to, not replaced.
func (o options) newBatch(stdout, stderr io.Writer) *reports.Batch {
	var files []string
	for _, r := range o.reportPaths() {
		if r.path != "-" {
			files = append(files, r.label())
		}
	}
	out := reports.NewBatch(files...)
	for _, w := range []io.Writer{stdout, stderr} {
		if f, ok := w.(*os.File); ok {
			out.WriteStreams(f)
		}
	}
	writing.Store(out)
	return out
}

// quitAtOnce is what a second signal does before os.Exit: it removes the
// temporary files of the reports being written and says in one line which
// report files were not written (none, once they all are).
func quitAtOnce(stderr io.Writer) {
	out := writing.Load()
	if out == nil {
		return
	}
	if left := out.Abandon(); len(left) > 0 {
		fmt.Fprintf(stderr, "shutdowntest: quit at once; no report written for %s\n", strings.Join(left, ", "))
	}
}

// conclude prints the summary of a run, headless or watched, writes its
// reports into out, and returns its exit status.
func conclude(opts options, res *load.Result, runErr error, args []string, limit uint64, out *reports.Batch, stdout, stderr io.Writer) int {
	summary := stdout
	if opts.jsonPath == "-" {
		summary = stderr
	}
	info := toolInfo(args)
	info.OpenFileLimit = limit
	rep := reports.Build(res, runErr, info)
	opts.adoptSeed(res.Config)
	all, one := reproduce(opts, progName(args[0]))
	rep.Reproduce.Command = all
	if rep.Verdict != reports.VerdictPass && len(rep.Iterations) > 1 {
		rep.Reproduce.FirstFailing = one
	}
	// The summary comes first: the verdict is said even when a report
	// then cannot be written.
	rep.WriteText(summary)
	written := writeReports(opts, rep, out, stdout, stderr)
	return exitStatus(res.Interrupted, runErr != nil, written, rep.Verdict == reports.VerdictPass)
}

// exitStatus is the one status a run ends with when several apply: see the
// package comment for the order and why.
func exitStatus(interrupted, notRun, written, pass bool) int {
	switch {
	case interrupted:
		return exitInterrupted
	case notRun:
		return exitNotRun
	case !written:
		return exitNoReport
	case !pass:
		return exitFail
	}
	return exitPass
}

// writeReports writes every report asked for: a file through out (see
// reports.Batch.Write: atomic, so a reader never sees half a file), --json -
// to stdout. It goes on past a failed one so the others still land, says
// each failure in one line naming the flag, the file and the error, and
// reports whether every report was written.
func writeReports(o options, rep reports.Report, out *reports.Batch, stdout, stderr io.Writer) bool {
	render := map[string]func(io.Writer) error{
		"json": rep.WriteJSON, "junit": rep.WriteJUnit, "markdown": rep.WriteMarkdown, "html": rep.WriteHTML,
	}
	written := true
	for _, r := range o.reportPaths() {
		var err error
		if r.path == "-" {
			if err = render[r.flag](stdout); err != nil {
				err = fmt.Errorf("write stdout: %w", err)
			}
		} else {
			err = out.Write(r.label(), r.path, render[r.flag])
		}
		if err != nil {
			fmt.Fprintf(stderr, "shutdowntest: --%s: report not written: %v\n", r.flag, err)
			written = false
		}
	}
	return written
}
