package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// version is the tool's version; the commit comes from the build info.
const version = "0.1.0"

var errHelp = errors.New("help shown")

// maxDuration is the longest any duration flag may be. Longer is a typo,
// not a shutdown test, and the engine adds the durations to its deadlines,
// which must not overflow.
const maxDuration = 24 * time.Hour

// maxIterations bounds --iterations: a million cycles is weeks of runs,
// and a count near the int limit would make the engine's loop counter
// wrap instead of ending.
const maxIterations = 1_000_000

type options struct {
	cfg      load.Config
	headless bool
	version  bool
	// Report files by format; "" means not written. Only JSON takes "-".
	jsonPath, junitPath, markdownPath, htmlPath string
	// runFlags are the flags that shape the run, as given, canonicalised:
	// the command that reproduces it.
	runFlags []string
	// command is an external server's command (after --); serverLog the
	// file its whole output goes to.
	command   []string
	serverLog string
}

const usageHead = `shutdowntest: does this server shut down cleanly while clients are connected, idle and busy?

It starts an embedded model of eMule's Web UI server on 127.0.0.1, opens the
clients below, triggers shutdown and checks how every client and every server
thread ended. In a terminal it shows the run live and waits for s to shut
down (? in the view lists its keys); --headless runs straight through.

It can also put a server of yours through the same test: --target its URL,
and after -- the command that starts it ({port}: a free loopback port).

Usage:
  shutdowntest [flags]
  shutdowntest [flags] --target URL [--trigger T] [-- COMMAND ARGS...]
  shutdowntest serve [flags]                    # the model as a server process of its own (serve --help)
  shutdowntest merge A.json B.json ... [--json OUT]  # one report from the runners of a shared test (merge --help)

Examples:
  shutdowntest                                  # the interactive view: press s to shut down, q to quit
  shutdowntest --headless                       # the default run: every check should pass
  shutdowntest --headless --policy legacy       # the pre-fix server: the tool must catch it (exit 1)
  shutdowntest --headless --iterations 100 --drain-timeout 2s --json report.json
  shutdowntest --headless --for 5m --jitter 50ms --html soak.html   # a soak: no-growth judges the trend
  shutdowntest --headless --policy legacy --junit junit.xml --markdown summary.md --html timeline.html
  shutdowntest --ws 200 --silent 500 --http-idle 300 --json - | jq .verdict
  shutdowntest --headless --target http://127.0.0.1:{port} --slow '/slow?ms=2000' --trigger signal:TERM -- ./server --listen 127.0.0.1:{port}
  shutdowntest --headless --target http://127.0.0.1:8080 --trigger 'http:POST:/admin/shutdown' -H 'X-Token: t'

Durations are at most 24h (--for at most 720h). A report path may be a file
(replaced atomically), a symbolic link (the file it names is replaced) or a
FIFO or device (written to).

Exit status: 0 every check passed, 1 a check failed, 2 bad usage, 3 the run
could not be carried out, 4 the verdict was reached but a report could not be
written (the summary says the verdict), 130 interrupted. When several apply,
the first of 130, 3, 4, 1 wins.

Flags:
`

// parseFlags parses the command line. Every error is one line that names
// the flag.
func parseFlags(args []string, helpOut io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("shutdowntest", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	policy := fs.String("policy", string(target.PolicyFixed), "shutdown policy of the embedded server: "+policyNames())
	faults := fs.StringArray("fault", nil, "inject the fault `NAME` (repeatable):"+faultHelp())
	counts := countFlags(&o.cfg.Mix)
	for _, c := range counts {
		fs.IntVar(c.n, c.name, defaultCount, c.help)
	}
	fs.BoolVar(&o.cfg.Target.TLS, "https", false, "the embedded server speaks TLS with a certificate it generates; the tool's clients verify it")
	hostile := addHostileFlags(fs)
	fs.DurationVar(&o.cfg.InflightFor, "inflight-for", 300*time.Millisecond, "how long in-flight requests keep processing after the trigger")
	fs.DurationVar(&o.cfg.DrainTimeout, "drain-timeout", 10*time.Second, "fixed's shared budget for joining client threads; observation ends 1s after it")
	fs.DurationVar(&o.cfg.ReadyTimeout, "ready-timeout", 10*time.Second, "how long clients may take to reach their intended states")
	fs.IntVar(&o.cfg.Iterations, "iterations", 1, "how many start-hold-shutdown cycles, each on a fresh server")
	fs.DurationVar(&o.cfg.ShutdownAfter, "shutdown-after", 0, "trigger shutdown after the clients have held this long (0: at once headless; on s in the terminal UI)")
	fs.DurationVar(&o.cfg.MaxDrain, "max-drain", 0, "fail (check drain-within) when trigger → last client thread exited takes longer")
	fs.DurationVar(&o.cfg.For, "for", 0, "soak: start iterations until this long has passed (at most 720h; --iterations, when given, caps them)")
	fs.DurationVar(&o.cfg.Jitter, "jitter", 0, "move each trigger later by a random offset up to this long, drawn from --seed")
	fs.Int64Var(&o.cfg.Seed, "seed", 0, "seed of the run's random choices (0: from the clock; the report and the reproduce command give the one used)")
	fs.StringVar(&o.jsonPath, "json", "", "write the JSON report to this file (- for stdout; the summary then goes to stderr)")
	fs.StringVar(&o.junitPath, "junit", "", "write a JUnit XML report (one testcase per check per iteration) to this file")
	fs.StringVar(&o.markdownPath, "markdown", "", "write a Markdown report (release checklist, CI step summary) to this file")
	fs.StringVar(&o.htmlPath, "html", "", "write a self-contained HTML report with an SVG timeline to this file")
	fs.BoolVar(&o.headless, "headless", false, "run without the interactive view (implied when stdin or stdout is not a terminal)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	ext := addExternalFlags(fs)
	rate := addRateFlags(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *help {
		fmt.Fprint(helpOut, usageHead+fs.FlagUsages())
		return o, errHelp
	}
	var command []string
	if dash := fs.ArgsLenAtDash(); dash >= 0 {
		command = fs.Args()[dash:]
	}
	if n := fs.NArg() - len(command); n > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only, and an external server's command after --; see --help)", fs.Arg(0))
	}
	if err := ext.apply(fs, &o, command); err != nil {
		return o, err
	}
	if err := rate.apply(&o.cfg); err != nil {
		return o, err
	}
	p, err := target.ParsePolicy(*policy)
	if err != nil {
		return o, fmt.Errorf("--policy: %v", err)
	}
	o.cfg.Policy = p
	for _, name := range *faults {
		f, err := load.ParseFault(name)
		if err != nil {
			return o, fmt.Errorf("--fault: %v", err)
		}
		if !slices.Contains(o.cfg.Faults, f) {
			o.cfg.Faults = append(o.cfg.Faults, f)
		}
	}
	if slices.Contains(o.cfg.Faults, target.FaultSlowTLS) && !o.cfg.Target.TLS {
		return o, fmt.Errorf("--fault: %s needs --https (the server must speak TLS)", target.FaultSlowTLS)
	}
	var names []string
	for _, c := range counts {
		if *c.n < 0 {
			return o, fmt.Errorf("--%s: must be 0 or more, got %d", c.name, *c.n)
		}
		names = append(names, "--"+c.name)
	}
	if err := hostile.apply(&o.cfg.Mix); err != nil {
		return o, err
	}
	switch total := o.cfg.Mix.Total(); {
	case total == 0:
		return o, fmt.Errorf("%s: at least one client is needed", strings.Join(names, ", "))
	case total > load.MaxClients:
		return o, fmt.Errorf("%s: more than %d clients in all, too many to count their sockets", strings.Join(names, ", "), load.MaxClients)
	}
	for _, d := range []struct {
		name   string
		v      time.Duration
		zeroOK bool // 0 means "not given"
	}{
		{"inflight-for", o.cfg.InflightFor, false}, {"drain-timeout", o.cfg.DrainTimeout, false},
		{"ready-timeout", o.cfg.ReadyTimeout, false}, {"shutdown-after", o.cfg.ShutdownAfter, true},
		{"max-drain", o.cfg.MaxDrain, true}, {"jitter", o.cfg.Jitter, true},
	} {
		switch {
		case d.v < 0 && d.zeroOK:
			return o, fmt.Errorf("--%s: must be 0 or more, got %v", d.name, d.v)
		case d.v <= 0 && !d.zeroOK:
			return o, fmt.Errorf("--%s: must be more than 0, got %v", d.name, d.v)
		case d.v > maxDuration:
			return o, fmt.Errorf("--%s: must be at most %gh, got %v", d.name, maxDuration.Hours(), d.v)
		}
	}
	if o.cfg.Iterations < 1 || o.cfg.Iterations > maxIterations {
		return o, fmt.Errorf("--iterations: must be from 1 to %d, got %d", maxIterations, o.cfg.Iterations)
	}
	// A soak has its own maximum: it is the one duration meant to be
	// long, and the engine adds it to nothing but the run's start.
	switch {
	case o.cfg.For < 0:
		return o, fmt.Errorf("--for: must be 0 or more, got %v", o.cfg.For)
	case o.cfg.For > load.MaxFor:
		return o, fmt.Errorf("--for: must be at most %gh, got %v", load.MaxFor.Hours(), o.cfg.For)
	case o.cfg.For > 0 && !fs.Changed("iterations"):
		o.cfg.Iterations = 0 // the time ends a soak; only a given count caps it
	}
	if err := checkReportPaths(o.reportPaths()); err != nil {
		return o, err
	}
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "json", "junit", "markdown", "html", "headless", "help", "version", "server-log":
			return // outputs, not the run
		case "header":
			for _, h := range ext.headers {
				o.runFlags = append(o.runFlags, "--header="+h)
			}
			return
		case "fault":
			for _, f := range o.cfg.Faults {
				o.runFlags = append(o.runFlags, "--fault="+string(f))
			}
			return
		}
		o.runFlags = append(o.runFlags, "--"+f.Name+"="+f.Value.String())
	})
	return o, nil
}

// policyNames lists the policies for --help: "fixed, legacy, ...".
func policyNames() string {
	names := make([]string, len(target.Policies))
	for i, p := range target.Policies {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// faultHelp lists the faults for --help, each with the bug it exposes.
func faultHelp() string {
	var b strings.Builder
	for _, f := range load.Faults {
		fmt.Fprintf(&b, "\n    %s: %s", f, load.FaultBugs[f])
	}
	return b.String()
}

// defaultCount is every client count's default.
const defaultCount = 1

// countFlag is one of the mix's counts as a flag.
type countFlag struct {
	name, help string
	n          *int
}

// countFlags are the mix's counts by flag, in the order of --help.
func countFlags(m *load.Mix) []countFlag {
	return []countFlag{
		{"http-idle", "Web UI clients that get a page and then hold the connection open", &m.HTTPIdle},
		{"http-inflight", "Web UI clients whose request is being processed at the trigger", &m.HTTPInflight},
		{"rest-idle", "REST clients that get an answer and then hold the connection open", &m.RESTIdle},
		{"rest-inflight", "REST clients whose request is being processed at the trigger", &m.RESTInflight},
		{"ws", "WebSocket clients receiving the live stats stream", &m.WS},
		{"silent", "raw TCP connections that never send anything", &m.Silent},
	}
}

// adopt takes the policy, the faults and the mix of the run the terminal
// UI ended with (p, f and +/- change them), so the report and its reproduce command
// describe that run and not the flags as first given.
func (o *options) adopt(cfg load.Config) {
	if cfg.Policy != o.cfg.Policy {
		o.setRunFlag("policy", string(cfg.Policy))
	}
	was, now := countFlags(&o.cfg.Mix), countFlags(&cfg.Mix)
	for i := range now {
		if *now[i].n != *was[i].n {
			o.setRunFlag(now[i].name, fmt.Sprint(*now[i].n))
		}
	}
	if !slices.Equal(cfg.Faults, o.cfg.Faults) {
		o.runFlags = slices.DeleteFunc(o.runFlags, func(f string) bool { return strings.HasPrefix(f, "--fault=") })
		for _, f := range cfg.Faults {
			o.runFlags = append(o.runFlags, "--fault="+string(f))
		}
	}
	o.cfg.Policy, o.cfg.Mix, o.cfg.Faults = cfg.Policy, cfg.Mix, cfg.Faults
}

// adoptSeed puts the seed a run used into its reproduce command when the
// run drew anything from it: a seed taken from the clock is known only
// once the run has started.
func (o *options) adoptSeed(cfg load.Config) {
	if cfg.Randomized() && cfg.Seed != 0 {
		o.setRunFlag("seed", fmt.Sprint(cfg.Seed))
	}
}

// setRunFlag gives a flag of the reproduce command a new value, or adds it.
func (o *options) setRunFlag(name, value string) {
	flag := "--" + name + "="
	for i, f := range o.runFlags {
		if strings.HasPrefix(f, flag) {
			o.runFlags[i] = flag + value
			return
		}
	}
	o.runFlags = append(o.runFlags, flag+value)
}

// reportPath is a report flag given and the path it names.
type reportPath struct{ flag, path string }

// label names the report in messages: the flag and its path.
func (r reportPath) label() string { return "--" + r.flag + " " + r.path }

// reportPaths are the report flags given, in the order of --help.
func (o options) reportPaths() []reportPath {
	var out []reportPath
	for _, r := range []reportPath{{"json", o.jsonPath}, {"junit", o.junitPath}, {"markdown", o.markdownPath}, {"html", o.htmlPath}} {
		if r.path != "" {
			out = append(out, r)
		}
	}
	return out
}

// checkReportPaths fails before the run, not after it, on a report path
// that cannot be written, and on two report flags naming one file: the
// second report would silently replace the first. One file is the same
// path once absolute and through its links, or, for files that exist, the
// same file by os.SameFile (a hard link, a bind mount).
func checkReportPaths(outs []reportPath) error {
	type file struct {
		flag, target string
		fi           os.FileInfo // nil for a file still to be created
	}
	var files []file
	for _, out := range outs {
		if out.path == "-" {
			if out.flag == "json" {
				continue // stdout, not a file
			}
			return fmt.Errorf("--%s: only --json writes to stdout (-); give a file", out.flag)
		}
		if err := reports.CheckWritable(out.path); err != nil {
			return fmt.Errorf("--%s: %v", out.flag, err)
		}
		target, err := reports.Target(out.path)
		if err != nil {
			return fmt.Errorf("--%s: cannot write %s: %v", out.flag, out.path, err)
		}
		fi, err := os.Stat(out.path)
		if err != nil {
			fi = nil
		}
		for _, f := range files {
			if f.target == target || (fi != nil && f.fi != nil && os.SameFile(fi, f.fi)) {
				return fmt.Errorf("--%s and --%s: both name %s; give each report its own file", f.flag, out.flag, target)
			}
		}
		files = append(files, file{out.flag, target, fi})
	}
	return nil
}

func toolInfo(args []string) reports.ToolInfo {
	info := reports.ToolInfo{Version: version, Commit: "unknown", GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, GOMAXPROCS: runtime.GOMAXPROCS(0), CommandLine: args}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Commit = s.Value
			}
		}
	}
	return info
}

// progressLine is the one line headless prints per iteration on stderr.
// Its verdict is the report's for that iteration (reports.IterationVerdict)
// and its terminate words the record's, so it can say no more than the
// report will: an iteration whose clients never got ready is no pass.
func progressLine(it *load.Iteration) string {
	checks := reports.Evaluate(it)
	tr := it.Server.Terminate
	term := "terminate not closed"
	switch {
	case tr.KeptOpen:
		term = "terminate kept open"
	case tr.Closed:
		term = fmt.Sprintf("terminate closed t%+.3fs with %d client threads alive", (tr.ClosedAt - it.Trigger).Seconds(), len(tr.AliveAtClose))
		if n := len(tr.Unjoined); n > 0 {
			term += fmt.Sprintf(", %d not joined", n)
		}
	case it.External != nil:
		term = externalProgress(it.External, it.Trigger)
	}
	var verdict string
	switch reports.IterationVerdict(it, checks) {
	case reports.VerdictPass:
		verdict = string(reports.VerdictPass)
	case reports.VerdictError:
		verdict = "ERROR (could not be carried out)"
	default:
		var failed []string
		for _, c := range checks {
			if c.Status == reports.StatusFail {
				failed = append(failed, c.ID)
			}
		}
		verdict = "FAIL " + strings.Join(failed, ", ")
		if len(failed) == 0 {
			verdict = "FAIL (the clients were never all in place)"
		}
	}
	if it.Interrupted {
		verdict += " (interrupted)"
	}
	return fmt.Sprintf("%s; %s; %d clients", verdict, term, len(it.Clients))
}

// reproduce is the command that runs the same configuration again, and
// one iteration of it alone (iterations are independent, each on a fresh
// server). Output flags are left out: rerunning should not overwrite the
// reports being read.
func reproduce(o options, prog string) (all, one string) {
	base := append([]string{prog, "--headless"}, shellQuote(o.runFlags)...)
	if len(o.command) > 0 {
		base = append(append(base, "--"), shellQuote(o.command)...)
	}
	var single []string
	for _, f := range base {
		if !strings.HasPrefix(f, "--iterations=") {
			single = append(single, f)
		}
	}
	return strings.Join(base, " "), strings.Join(append(single, "--iterations=1"), " ")
}

// progName is how the user ran the tool: "go run ." when the binary sits
// in the go command's build cache, else the binary's name.
func progName(arg0 string) string {
	if strings.Contains(arg0, "go-build") {
		return "go run ."
	}
	return filepath.Base(arg0)
}
