package main

// The command line of an external target (issue 11): --target, the
// command after --, the trigger, the routes, and what the server's
// process is expected to do.

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"shutdowntest/load"
	"shutdowntest/reports"
)

// externalFlags are the flags of an external target, as given.
type externalFlags struct {
	target, trigger, page, rest, slow, wsPath, readyPath, expectExit, serverLog, stateURL string
	headers                                                                               []string
	pid                                                                                   int
	grace, settle                                                                         time.Duration
	allowRemote, noSampling                                                               bool
	shared                                                                                *sharedFlags
}

// externalOnly are the flags that mean something only with --target.
var externalOnly = []string{"trigger", "pid", "page", "rest", "slow", "ws-path", "header", "ready-path",
	"expect-exit", "admission-grace", "server-log", "allow-remote", "state-url", "settle", "no-os-sampling", "trigger-at", "runner-id"}

// embeddedOnly are the flags of the embedded model only: its policy, its
// in-flight hold, and what the external engine does not do yet (hostile
// clients, whose verdict rests on the server thread that served them; a
// jittered trigger).
func embeddedOnly() []string {
	names := []string{"policy", "inflight-for", "jitter", "hostile", "https", "fault"}
	for _, r := range load.HostileRoles() {
		names = append(names, string(r.Role))
	}
	return names
}

func addExternalFlags(fs *pflag.FlagSet) *externalFlags {
	e := &externalFlags{}
	fs.StringVar(&e.target, "target", "", "an external server's base URL (http://127.0.0.1:{port}: {port} is a free loopback port, also in the command after --)")
	fs.StringVar(&e.trigger, "trigger", "", "how to trigger its shutdown: signal:TERM|INT|QUIT|HUP, http:METHOD:PATH[:BODY], cmd:COMMAND ({pid} and {port} in it are the server's; ctrl-break on Windows), none (another runner triggers at --trigger-at); default signal:TERM with a process")
	fs.IntVar(&e.pid, "pid", 0, "the process of a server already running, to signal and watch")
	fs.StringVar(&e.page, "page", "/", "route of the idle HTTP clients (external target)")
	fs.StringVar(&e.rest, "rest", "", "route of the idle REST clients (sent Accept: application/json)")
	fs.StringVar(&e.slow, "slow", "", "route of every in-flight client: it must take longer than the time to trigger")
	fs.StringVar(&e.wsPath, "ws-path", "", "route of the WebSocket clients")
	fs.StringArrayVarP(&e.headers, "header", "H", nil, "'Name: value' on every request and WebSocket handshake (repeatable)")
	fs.StringVar(&e.readyPath, "ready-path", "", "a launched server is ready when this route answers 2xx (default: --page)")
	fs.StringVar(&e.expectExit, "expect-exit", "0", "the exit status the server's process must exit with, or none (the trigger leaves it running)")
	fs.DurationVar(&e.grace, "admission-grace", time.Second, "how long after the trigger a new connection may still be served")
	fs.StringVar(&e.serverLog, "server-log", "", "write the server's whole stdout and stderr to this file")
	fs.BoolVar(&e.allowRemote, "allow-remote", false, "allow a --target that is not loopback")
	fs.StringVar(&e.stateURL, "state-url", "", "the server's state endpoint (http://127.0.0.1:{state-port}/state: {state-port} is a second free port, also in the command); its threads, shutdown signal and steps are judged as the embedded model's")
	fs.DurationVar(&e.settle, "settle", 500*time.Millisecond, "with --expect-exit none: how long after its port closed the server may take to end its clients' threads and sockets before they count as leaked")
	fs.BoolVar(&e.noSampling, "no-os-sampling", false, "do not sample the server's process from the OS (its threads and sockets)")
	e.shared = addSharedFlags(fs)
	return e
}

// routeOf names, per count flag, the route flag its clients need with
// --target ("" for none: a silent client only connects). A count whose
// route was not given defaults to 0; rest-inflight's default also needs
// --rest (without it, the in-flight clients are the Web UI's).
var routeOf = map[string]string{"http-idle": "page", "http-inflight": "slow", "rest-idle": "rest",
	"rest-inflight": "slow", "ws": "ws-path", "silent": ""}

// apply checks the external flags and, with --target, sets o's external
// target and the counts' defaults. command is what followed --.
func (e *externalFlags) apply(fs *pflag.FlagSet, o *options, command []string) error {
	if e.target == "" {
		for _, name := range externalOnly {
			if fs.Changed(name) {
				return fmt.Errorf("--%s: only with --target", name)
			}
		}
		if len(command) > 0 {
			return fmt.Errorf("unexpected argument %q (a command after -- needs --target)", command[0])
		}
		return nil
	}
	for _, name := range embeddedOnly() {
		if fs.Changed(name) {
			return fmt.Errorf("--%s: only for the embedded target, not with --target", name)
		}
	}
	if err := checkTargetURL(e.target, e.allowRemote); err != nil {
		return fmt.Errorf("--target: %v", err)
	}
	if e.stateURL != "" {
		if err := checkStateURL(e.stateURL, e.allowRemote); err != nil {
			return fmt.Errorf("--state-url: %v", err)
		}
	}
	x := &load.External{URL: e.target, Command: command, PID: e.pid, Page: e.page, REST: e.rest, Slow: e.slow,
		WSPath: e.wsPath, ReadyPath: e.readyPath, AdmissionGrace: e.grace, Header: map[string][]string{},
		StateURL: e.stateURL, Settle: e.settle, NoSampling: e.noSampling}
	for _, r := range []struct{ flag, v string }{{"page", e.page}, {"rest", e.rest}, {"slow", e.slow}, {"ws-path", e.wsPath}, {"ready-path", e.readyPath}} {
		if r.v != "" && !strings.HasPrefix(r.v, "/") {
			return fmt.Errorf("--%s: want a path starting with /, got %q", r.flag, r.v)
		}
	}
	if x.ReadyPath == "" {
		x.ReadyPath = x.Page
	}
	for _, h := range e.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("--header: want 'Name: value', got %q", h)
		}
		x.Header.Add(name, strings.TrimSpace(value))
	}
	switch {
	case e.pid < 0:
		return fmt.Errorf("--pid: must be a process id, got %d", e.pid)
	case e.pid > 0 && len(command) > 0:
		return errors.New("--pid: not with a command after -- (the tool starts that one itself)")
	}
	if err := e.applyTrigger(x, command); err != nil {
		return err
	}
	switch e.expectExit {
	case "none":
		x.KeepsRunning = true
	default:
		n, err := strconv.Atoi(e.expectExit)
		if err != nil || n < 0 || n > 255 {
			return fmt.Errorf("--expect-exit: want a status from 0 to 255 or none, got %q", e.expectExit)
		}
		x.ExpectExit = n
	}
	if e.grace < 0 || e.grace > maxDuration {
		return fmt.Errorf("--admission-grace: must be from 0 to %gh, got %v", maxDuration.Hours(), e.grace)
	}
	if e.settle < 0 || e.settle > maxDuration {
		return fmt.Errorf("--settle: must be from 0 to %gh, got %v", maxDuration.Hours(), e.settle)
	}
	if e.serverLog != "" {
		if len(command) == 0 {
			return errors.New("--server-log: only with a command after -- (the tool keeps a launched server's output)")
		}
		if err := reports.CheckWritable(e.serverLog); err != nil {
			return fmt.Errorf("--server-log: %v", err)
		}
	}
	for _, c := range countFlags(&o.cfg.Mix) {
		route := routeOf[c.name]
		given := route == "" || fs.Changed(route) || (route == "page" && e.page != "")
		if c.name == "rest-inflight" && !fs.Changed(c.name) {
			given = given && fs.Changed("rest")
		}
		switch {
		case !fs.Changed(c.name) && !given:
			*c.n = 0
		case fs.Changed(c.name) && *c.n > 0 && !given:
			return fmt.Errorf("--%s: needs --%s (the route of its clients) with --target", c.name, route)
		}
	}
	o.cfg.External, o.command, o.serverLog = x, command, e.serverLog
	return e.shared.apply(fs, o, x, time.Now())
}

// applyTrigger reads --trigger, or picks the default: a signal to the
// process (TERM; ctrl-break on Windows) when there is one.
func (e *externalFlags) applyTrigger(x *load.External, command []string) error {
	haveProcess := len(command) > 0 || e.pid > 0
	s := e.trigger
	if s == "" {
		switch {
		case !haveProcess:
			return errors.New("--trigger: needed when no command is launched after -- and no --pid is given")
		case runtime.GOOS == "windows":
			s = "ctrl-break"
		default:
			s = "signal:TERM"
		}
	}
	t, err := load.ParseTrigger(s)
	if err != nil {
		return fmt.Errorf("--trigger: %v", err)
	}
	switch {
	case t.Kind == load.TriggerSignal && !haveProcess:
		return fmt.Errorf("--trigger: %s needs a process: a command after -- or --pid", t)
	case t.Kind == load.TriggerCmd && strings.Contains(t.Command, load.PIDPlaceholder) && !haveProcess:
		return fmt.Errorf("--trigger: %s in a command needs a process: a command after -- or --pid", load.PIDPlaceholder)
	case t.Kind == load.TriggerCtrlBreak && len(command) == 0:
		return errors.New("--trigger: ctrl-break needs a command after -- (launched in its own process group)")
	}
	x.Trigger = t
	return nil
}

// checkTargetURL refuses a target that is not http://host[:port][/], and,
// unless remote targets are allowed, a host that is not loopback. Like
// serve's --addr it reads the literal host and looks nothing up, so the
// refusal comes before any name lookup or connection.
func checkTargetURL(raw string, allowRemote bool) error {
	u, err := url.Parse(strings.ReplaceAll(raw, load.PortPlaceholder, "1"))
	if err != nil {
		return fmt.Errorf("want http://host:port, got %q", raw)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("want an http:// URL, got %q", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("want a base URL (http://host:port, no path, query or user), got %q", raw)
	}
	return checkURLHost(u, allowRemote, load.PortPlaceholder)
}

// checkURLHost refuses a port that is not a number (or the placeholder
// ph, which the caller replaced by 1) and, unless remote targets are
// allowed, a host that is not loopback, from the literal text.
func checkURLHost(u *url.URL, allowRemote bool, ph string) error {
	host := u.Hostname()
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return fmt.Errorf("port must be a number from 1 to 65535 or %s, got %q", ph, p)
		}
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1, localhost); --allow-remote to test a server elsewhere", host)
}

// checkStateURL refuses a state endpoint that is not http://host:port/PATH
// (a path is allowed), with the same loopback rule as --target.
func checkStateURL(raw string, allowRemote bool) error {
	u, err := url.Parse(strings.ReplaceAll(raw, load.StatePortPlaceholder, "1"))
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil {
		return fmt.Errorf("want an http:// URL such as http://127.0.0.1:{state-port}/state, got %q", raw)
	}
	return checkURLHost(u, allowRemote, load.StatePortPlaceholder)
}

// openServerLog creates the --server-log file; nil when none was asked.
func openServerLog(o options) (io.WriteCloser, error) {
	if o.serverLog == "" || o.cfg.External == nil {
		return nil, nil
	}
	f, err := os.Create(o.serverLog)
	if err != nil {
		return nil, fmt.Errorf("--server-log: %v", err)
	}
	o.cfg.External.ServerLog = f
	return f, nil
}

// shellQuote quotes the words a POSIX shell would split or expand, so
// that the reproduce command can be pasted.
func shellQuote(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`;&|<>()*?[]#~!") {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return out
}

// externalProgress is the progress line's words for an external server's
// process, in place of the terminate handle's.
func externalProgress(x *load.ExternalRecord, trigger time.Duration) string {
	switch ex := x.Exit; {
	case x.PID == 0:
		return "no process watched"
	case ex.Killed:
		return fmt.Sprintf("process %d killed (%s)", x.PID, ex.Detail)
	case ex.Exited:
		return fmt.Sprintf("process %d exited t%+.3fs (%s)", x.PID, (ex.At - trigger).Seconds(), ex.Detail)
	}
	return fmt.Sprintf("process %d not seen to exit", x.PID)
}
