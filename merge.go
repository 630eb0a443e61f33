package main

// `shutdowntest merge` joins the JSON reports of the runners of a shared
// test (--trigger-at, issue 13) into one report with one verdict.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"shutdowntest/reports"
)

const mergeUsageHead = `shutdowntest merge: one report and one verdict from the runners of a shared test

Runners on several machines hold their clients against one external target
until the same --trigger-at instant; one triggers, the others give
--trigger none. Each writes its JSON report (--json); merge joins them: every
runner's clients (numbered anew and labelled with the runner), admission
attempts and checks (a check fails if it failed on any runner), with the
drain figures recomputed from the merged iterations. The reports must be of
one target and one instant.

Usage:
  shutdowntest merge A.json B.json ... [--json OUT] [--junit F] [--markdown F] [--html F]

Exit status: as for a run: 0 pass, 1 a check failed, 2 bad usage or a report
that cannot be read or merged (one line naming the file), 3 a runner's run
could not be carried out, 4 a report could not be written, 130 a runner was
interrupted.

Flags:
`

// parseMergeFlags parses merge's command line into the report paths and
// the reports to merge.
func parseMergeFlags(args []string, helpOut io.Writer) (options, []string, error) {
	var o options
	fs := pflag.NewFlagSet("shutdowntest merge", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&o.jsonPath, "json", "", "write the merged JSON report to this file (- for stdout)")
	fs.StringVar(&o.junitPath, "junit", "", "write a JUnit XML report to this file")
	fs.StringVar(&o.markdownPath, "markdown", "", "write a Markdown report to this file")
	fs.StringVar(&o.htmlPath, "html", "", "write an HTML report to this file")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if *help {
		fmt.Fprint(helpOut, mergeUsageHead+fs.FlagUsages())
		return o, nil, errHelp
	}
	if fs.NArg() == 0 {
		return o, nil, errors.New("no report to merge: give the runners' JSON reports")
	}
	if err := checkReportPaths(o.reportPaths()); err != nil {
		return o, nil, err
	}
	return o, fs.Args(), nil
}

// merge is `shutdowntest merge`: it reads the reports, merges them,
// prints the summary, writes the reports asked for and returns the exit
// status. args is the whole command line, merge's flags from args[2].
func merge(args []string, stdout, stderr io.Writer) int {
	o, files, err := parseMergeFlags(args[2:], stdout)
	if errors.Is(err, errHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest merge: %v\n", err)
		return exitUsage
	}
	srcs := make([]reports.Source, 0, len(files))
	for _, f := range files {
		r, err := readReport(f)
		if pe, ok := err.(*fs.PathError); ok {
			err = pe.Err // the line names the file already
		}
		if err != nil {
			fmt.Fprintf(stderr, "shutdowntest merge: %s: %v\n", f, err)
			return exitUsage
		}
		srcs = append(srcs, reports.Source{File: f, Report: r})
	}
	rep, err := reports.Merge(srcs, toolInfo(args))
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest merge: %v\n", err)
		return exitUsage
	}
	rep.Reproduce.Command = "shutdowntest merge " + strings.Join(shellQuote(files), " ")
	summary := stdout
	if o.jsonPath == "-" {
		summary = stderr
	}
	rep.WriteText(summary)
	written := writeReports(o, rep, o.newBatch(stdout, stderr), stdout, stderr)
	return exitStatus(rep.Interrupted, rep.Error != nil, written, rep.Verdict == reports.VerdictPass)
}

func readReport(path string) (reports.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return reports.Report{}, err
	}
	defer f.Close()
	return reports.ReadJSON(f)
}
