package reports

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/load"
)

// Checks added for external targets: what the server's process did.
const (
	CheckProcessExited = "process-exited"
	CheckPortReleased  = "port-released"
)

// Why a check cannot be observed on an external target: its server is
// another process, whose threads, handles and shutdown steps the tool
// does not see (a state endpoint or OS sampling may show them later).
const (
	skipNoModel  = "external target: no model kernel: the server's terminate signal, threads and handles are in its own process"
	skipNoSteps  = "external target: its shutdown steps are not observable; process-exited judges how its process ended"
	skipNoRoutes = "external target: the routing table load/routes.golden.json is the embedded model's"
	skipNoRes    = "external target: its sockets and handles are in its own process"
	skipEmbedded = "embedded target: the server runs inside this process"
	skipHostile  = "external target: hostile clients are judged by how their server thread ended, which an external target does not show"
)

// externalJudges judges an external iteration, check by check: every id
// of the registry has an entry (a test holds them together), so a check
// added later must say how it reads an external target, or why it
// cannot, rather than pass by default.
var externalJudges = map[string]func(*load.Iteration) Check{
	CheckTerminateOutlivedWaiters: fromState(checkTerminate, skipNoModel),
	CheckShutdownCompleted:        fromState(checkShutdown, skipNoSteps),
	CheckNoThreadLeak:             stateOr(checkThreadLeak, checkThreadLeakExternal),
	CheckInflightCompleted:        checkInflight,
	CheckIdleClosed:               checkIdleExternal,
	CheckWSCloseGoingAway:         checkWSClose,
	CheckNoAdmissionAfterTrigger:  checkAdmissionExternal,
	CheckRoutingUnchanged:         skipWith(skipNoRoutes),
	CheckResourcesReleased:        skipWith(skipNoRes),
	CheckNoKernelViolations:       skipWith(skipNoModel),
	CheckDrainWithin:              checkDrainExternal,
	CheckProcessExited:            checkProcessExited,
	CheckPortReleased:             checkPortReleased,
	CheckHostileHandled:           skipWith(skipHostile),
	CheckNoBusySpin:               skipWith(skipNoModel),
	CheckServerClosedConnections:  checkServerClosed,
	CheckNoFailedRequests:         checkFailedRequests,
}

// judge is the function that judges it by check cr: the registry's for the
// embedded target, externalJudges' for an external one.
func judge(cr criterion, it *load.Iteration) func(*load.Iteration) Check {
	if it.External != nil {
		return externalJudges[cr.id]
	}
	return cr.evaluate
}

func skipWith(why string) func(*load.Iteration) Check {
	return func(*load.Iteration) Check { return newCheck(StatusSkip, 0, "%s", why) }
}

// checkIdleExternal judges the clients really idle at the trigger: an idle
// client the server closed after its response, before the trigger, had no
// connection to close at shutdown and is reported, not judged.
func checkIdleExternal(it *load.Iteration) Check {
	early := 0
	judged := *it
	judged.Clients = nil
	for _, c := range it.Clients {
		if c.Outcome == load.OutcomeClosedAfterResponse {
			early++
			continue
		}
		judged.Clients = append(judged.Clients, c)
	}
	none := "no idle or silent clients"
	if early > 0 {
		none = fmt.Sprintf("no client was idle at the trigger: the server closed %s after the response", plural(early, "idle connection", "idle connections"))
	}
	c := clientCheck(&judged, []load.Role{load.RoleIdle, load.RoleSilent}, none, "idle and silent clients closed by the server")
	if early > 0 && c.Detail != none { // clients were judged: say who was not
		c.Detail += fmt.Sprintf("; %s closed by the server after the response, before the trigger (not judged)",
			plural(early, "idle client", "idle clients"))
	}
	return c
}

// checkAdmissionExternal: from the trigger on, new connections were tried
// every 20 ms until one was refused; none may have been served later than
// the admission grace after the trigger, nor may the request on the
// kept-alive connection.
func checkAdmissionExternal(it *load.Iteration) Check {
	x := it.External
	s := x.Series
	if s.Attempts == 0 {
		return newCheck(StatusSkip, 0, "no admission attempts")
	}
	late := it.Trigger + x.Grace
	var bad, words []string
	words = append(words, fmt.Sprintf("%d new connections from the trigger on, %d served", s.Attempts, s.Admitted))
	if s.HasLastAdmitted {
		words = append(words, "last served "+at(it, s.LastAdmitted))
		if s.LastAdmitted > late {
			bad = append(bad, fmt.Sprintf("a new connection was served at %s, later than the %v grace", at(it, s.LastAdmitted), x.Grace))
		}
	}
	if s.HasFirstRefused {
		words = append(words, "first refused "+at(it, s.FirstRefused))
	} else {
		words = append(words, "none refused while observed")
	}
	n := s.Attempts
	for _, p := range it.Admission {
		if p.When != load.WhenKeepAlive {
			continue
		}
		n++
		words = append(words, fmt.Sprintf("keep-alive request at %s: %s", at(it, p.At), p.Outcome))
		if p.Outcome == load.AdmissionServed && p.At > late {
			bad = append(bad, fmt.Sprintf("the keep-alive request at %s was served, later than the %v grace", at(it, p.At), x.Grace))
		}
	}
	if x.KeepAlive != "" {
		words = append(words, "no keep-alive request: "+x.KeepAlive)
	}
	if len(bad) > 0 {
		return newCheck(StatusFail, n, "%s (%s)", strings.Join(bad, "; "), strings.Join(words, ", "))
	}
	return newCheck(StatusPass, n, "%s", strings.Join(words, ", "))
}

// checkDrainExternal holds an external target's drain to --max-drain: the
// trigger to the process's exit, the one end of the drain that is seen.
func checkDrainExternal(it *load.Iteration) Check {
	x := it.External
	switch {
	case it.MaxDrain <= 0:
		return newCheck(StatusSkip, 0, "no --max-drain given")
	case x.PID == 0:
		return newCheck(StatusSkip, 0, "external target without a process to time (launch it, or give --pid)")
	case x.KeepsRunning:
		return newCheck(StatusSkip, 0, "the server keeps running (--expect-exit none): no exit to time")
	case !x.Exit.Exited || x.Exit.Killed:
		return newCheck(StatusFail, 1, "the process did not exit by itself (budget %v)", it.MaxDrain)
	}
	return drainBudget(1, "the process exited", x.Exit.At-it.Trigger, it.MaxDrain)
}

// checkProcessExited: the server's process exited by itself within
// --drain-timeout of the trigger, with the status expected; or, when the
// trigger is to leave it running, it did.
func checkProcessExited(it *load.Iteration) Check {
	x := it.External
	if x == nil {
		return newCheck(StatusSkip, 0, "%s", skipEmbedded)
	}
	ex := x.Exit
	switch {
	case x.PID == 0:
		return newCheck(StatusSkip, 0, "no server process: the target was already running and --pid was not given")
	case x.KeepsRunning && ex.Killed:
		return newCheck(StatusPass, 1, "kept running after the trigger, as --expect-exit none expects; stopped by the tool at the end")
	case x.KeepsRunning:
		return newCheck(StatusFail, 1, "exited at %s (%s), but --expect-exit none expected it to keep running", at(it, ex.At), ex.Detail)
	case ex.Killed && !x.Launched:
		return newCheck(StatusFail, 1, "still running at %s (trigger + --drain-timeout %v): the process was killed (--pid: its group is not the tool's)", at(it, x.ExitDeadline(it.Trigger)), x.DrainTimeout)
	case ex.Killed:
		return newCheck(StatusFail, 1, "still running at %s (trigger + --drain-timeout %v): its process group was killed", at(it, x.ExitDeadline(it.Trigger)), x.DrainTimeout)
	case !ex.Exited:
		return newCheck(StatusFail, 1, "not seen to exit while observed")
	case ex.At < it.Trigger:
		return newCheck(StatusFail, 1, "exited at %s, before the trigger (%s)", at(it, ex.At), ex.Detail)
	case !ex.StatusKnown && x.Launched:
		return newCheck(StatusFail, 1, "ended at %s by %s, not by exiting with status %d", at(it, ex.At), strings.TrimPrefix(ex.Detail, "signal: "), x.ExpectExit)
	case !ex.StatusKnown:
		return newCheck(StatusPass, 1, "exited by itself at %s (not the tool's child: its status is not known)", at(it, ex.At))
	case ex.Status != x.ExpectExit:
		return newCheck(StatusFail, 1, "exited by itself at %s with status %d, want %d (--expect-exit)", at(it, ex.At), ex.Status, x.ExpectExit)
	}
	return newCheck(StatusPass, 1, "exited by itself at %s with status %d", at(it, ex.At), ex.Status)
}

// checkPortReleased: once the process has exited, its port refuses
// connections and can be bound again.
func checkPortReleased(it *load.Iteration) Check {
	x := it.External
	switch {
	case x == nil:
		return newCheck(StatusSkip, 0, "%s", skipEmbedded)
	case x.PID == 0:
		return newCheck(StatusSkip, 0, "no server process whose exit would release the port")
	case x.KeepsRunning:
		return newCheck(StatusSkip, 0, "the server keeps running (--expect-exit none)")
	case !x.Port.Checked:
		return newCheck(StatusSkip, 0, "the process was not seen to exit")
	case !x.Port.Refused || !x.Port.Bindable:
		return newCheck(StatusFail, 2, "after the exit: %s", x.Port.Detail)
	}
	return newCheck(StatusPass, 2, "after the exit: %s", x.Port.Detail)
}

// TargetBlock is the server under test: the JSON report's target block. At the
// top of the report it is the target as configured (URL and command with
// {port}; pid as given); in an iteration, as run, with how its process
// ended. Every field but Kind is null (or empty) for the embedded target.
type TargetBlock struct {
	// Kind is embedded or external.
	Kind    string   `json:"kind"`
	URL     *string  `json:"url"`
	Command []string `json:"command"`
	PID     *int     `json:"pid"`
	Trigger *string  `json:"trigger"`
	// ExpectExit is the exit status expected, or "none".
	ExpectExit *string `json:"expect_exit"`
	// The rest is an iteration's only.
	TriggerDetail string   `json:"trigger_detail,omitempty"`
	Exit          *Exit    `json:"exit"`
	Port          *Port    `json:"port,omitempty"`
	Admission     *Series  `json:"admission_series,omitempty"`
	KeepAlive     string   `json:"keep_alive,omitempty"`
	Output        []string `json:"output,omitempty"`
	OutputLines   int      `json:"output_lines,omitempty"`
	GraceMS       *float64 `json:"admission_grace_ms,omitempty"`
	// StateURL is the state endpoint as configured; State what it said
	// in an iteration (both absent without --state-url).
	StateURL *string    `json:"state_url,omitempty"`
	State    *StateInfo `json:"state,omitempty"`
}

// StateInfo is what an external server's state endpoint said, besides the
// threads, terminate and shutdown sections it fills: who spoke, how much,
// and whether the stream ended with its final record.
type StateInfo struct {
	URL     string   `json:"url"`
	Version int      `json:"version"`
	Server  string   `json:"server"`
	Threads string   `json:"threads"`
	NA      []string `json:"na"`
	Records int      `json:"records"`
	Final   bool     `json:"final"`
	// Error says why the stream did not end with its final record.
	Error string `json:"error,omitempty"`
}

// Exit is how the server's process ended: Status null when it was ended by
// a signal or is not the tool's child; AtMS null when it was not seen to
// end; Killed when the tool killed it.
type Exit struct {
	Status *int     `json:"status"`
	AtMS   *float64 `json:"at_ms"`
	Killed bool     `json:"killed"`
	Detail string   `json:"detail"`
}

// Port is what the server's port did after its process ended.
type Port struct {
	Refused  bool   `json:"refused"`
	Bindable bool   `json:"bindable"`
	Detail   string `json:"detail"`
}

// Series sums up the new connections tried from the trigger on.
type Series struct {
	Attempts       int      `json:"attempts"`
	Admitted       int      `json:"admitted"`
	LastAdmittedMS *float64 `json:"last_admitted_ms"`
	FirstRefusedMS *float64 `json:"first_refused_ms"`
}

const (
	targetEmbedded = "embedded"
	targetExternal = "external"
)

// configTarget is the report's target block, from the configuration.
func configTarget(cfg load.Config) TargetBlock {
	x := cfg.External
	if x == nil {
		return TargetBlock{Kind: targetEmbedded, Command: []string{}}
	}
	t := TargetBlock{Kind: targetExternal, URL: &x.URL, Command: append([]string{}, x.Command...)}
	trig := x.Trigger.String()
	t.Trigger = &trig
	if x.PID != 0 {
		pid := x.PID
		t.PID = &pid
	}
	t.ExpectExit = expectExit(x.KeepsRunning, x.ExpectExit)
	if x.StateURL != "" {
		u := x.StateURL
		t.StateURL = &u
	}
	return t
}

func expectExit(keepsRunning bool, status int) *string {
	s := fmt.Sprint(status)
	if keepsRunning {
		s = "none"
	}
	return &s
}

// iterationTarget is an iteration's target block.
func iterationTarget(it *load.Iteration) TargetBlock {
	x := it.External
	if x == nil {
		return TargetBlock{Kind: targetEmbedded, Command: []string{}}
	}
	rel := func(d time.Duration) *float64 { v := ms(d - it.Trigger); return &v }
	t := TargetBlock{Kind: targetExternal, URL: &x.URL, Command: append([]string{}, x.Command...),
		TriggerDetail: x.TriggerDetail, KeepAlive: x.KeepAlive, Output: x.Output, OutputLines: x.OutputLines}
	trig := x.Trigger.String()
	t.Trigger = &trig
	t.ExpectExit = expectExit(x.KeepsRunning, x.ExpectExit)
	grace := ms(x.Grace)
	t.GraceMS = &grace
	if x.PID != 0 {
		pid := x.PID
		t.PID = &pid
		ex := &Exit{Killed: x.Exit.Killed, Detail: x.Exit.Detail}
		if x.Exit.StatusKnown {
			st := x.Exit.Status
			ex.Status = &st
		}
		if x.Exit.Exited {
			ex.AtMS = rel(x.Exit.At)
		}
		t.Exit = ex
	}
	if x.Port.Checked {
		t.Port = &Port{Refused: x.Port.Refused, Bindable: x.Port.Bindable, Detail: x.Port.Detail}
	}
	if st := x.State; st != nil {
		h := st.State.Hello
		t.State = &StateInfo{URL: st.URL, Version: h.Version, Server: h.Server, Threads: h.Threads,
			NA: append([]string{}, h.NA...), Records: st.State.Records, Final: st.State.Final, Error: st.Err}
	}
	s := x.Series
	t.Admission = &Series{Attempts: s.Attempts, Admitted: s.Admitted}
	if s.HasLastAdmitted {
		t.Admission.LastAdmittedMS = rel(s.LastAdmitted)
	}
	if s.HasFirstRefused {
		t.Admission.FirstRefusedMS = rel(s.FirstRefused)
	}
	return t
}

// external reports whether the report is of an external target.
func (r Report) external() bool { return r.Target.Kind == targetExternal }

// targetLine is the header's words for the target: the embedded model's
// policy, or the external URL and how it was started.
func (r Report) targetLine() string {
	if !r.external() {
		return "policy " + r.Config.Policy
	}
	s := "external target " + *r.Target.URL
	if len(r.Target.Command) > 0 {
		s += " (launched: " + strings.Join(r.Target.Command, " ") + ")"
	}
	if r.Target.PID != nil {
		s += fmt.Sprintf(" (pid %d)", *r.Target.PID)
	}
	return s + ", trigger " + *r.Target.Trigger
}

// serverStory is an external iteration's server in one line, in place of
// the embedded model's terminate story: the trigger, how the process
// ended and what its port did.
func serverStory(it Iteration) string {
	t := it.Target
	parts := []string{*t.Trigger}
	if t.TriggerDetail != "" {
		parts[0] += " (" + t.TriggerDetail + ")"
	}
	if ex := t.Exit; ex != nil {
		switch {
		case ex.AtMS == nil:
			parts = append(parts, fmt.Sprintf("process %d not seen to exit", *t.PID))
		case ex.Killed && *t.ExpectExit == "none":
			parts = append(parts, fmt.Sprintf("process %d kept running; stopped by the tool at %s", *t.PID, tms(*ex.AtMS)))
		case ex.Killed:
			parts = append(parts, fmt.Sprintf("process %d killed at %s (%s)", *t.PID, tms(*ex.AtMS), ex.Detail))
		default:
			parts = append(parts, fmt.Sprintf("process %d exited %s (%s)", *t.PID, tms(*ex.AtMS), ex.Detail))
		}
	} else {
		parts = append(parts, "no process watched")
	}
	if t.Port != nil {
		parts = append(parts, "port: "+t.Port.Detail)
	}
	if st := t.State; st != nil {
		s := fmt.Sprintf("state endpoint: %s, %s", plural(st.Records, "record", "records"), plural(len(it.Threads), "thread", "threads"))
		if st.Error != "" {
			s += " (" + st.Error + ")"
		} else {
			s += ", final record read"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// externalDrainStory is an external iteration's drain in one line: what is
// seen of it from outside.
func externalDrainStory(it Iteration) string {
	var parts []string
	if s := it.Target.Admission; s != nil && s.FirstRefusedMS != nil {
		parts = append(parts, "first connection refused "+tms(*s.FirstRefusedMS))
	} else {
		parts = append(parts, "no connection refused while observed")
	}
	if d := it.Drain.LastInflightMS; d != nil {
		parts = append(parts, "last in-flight response "+tms(*d))
	} else if hasRole(it, load.RoleInflight) {
		parts = append(parts, "no in-flight response completed")
	}
	d := it.Drain
	for _, f := range []struct {
		v    *float64
		what string
	}{{d.ListenerClosedMS, "listener closed"}, {d.LastSocketClosedMS, "last server socket closed"},
		{d.LastThreadExitMS, "last client thread exited"}, {d.ProcessExitMS, "process exited"}} {
		if f.v != nil {
			parts = append(parts, f.what+" "+tms(*f.v))
		}
	}
	return strings.Join(parts, ", ")
}

// outputLines are an iteration's last lines of server output, as every
// report shows them; none for the embedded target.
func outputLines(it Iteration) []string {
	if len(it.Target.Output) == 0 {
		return nil
	}
	head := fmt.Sprintf("server output (last %d of %d lines):", len(it.Target.Output), it.Target.OutputLines)
	out := []string{head}
	for _, l := range it.Target.Output {
		out = append(out, "  "+l)
	}
	return out
}

// mdServer is the Markdown section that stands in for the terminate
// signal's on an external target: the server's process and its output.
func (r Report) mdServer(b *strings.Builder, it Iteration, which string) {
	if len(r.Iterations) > 1 {
		fmt.Fprintf(b, "## Server (iteration %d, %s)\n\n", it.N, which)
	} else {
		b.WriteString("## Server\n\n")
	}
	b.WriteString(cell(serverStory(it)) + "\n\n")
	if lines := outputLines(it); len(lines) > 0 {
		b.WriteString(lines[0] + "\n\n```\n")
		for _, l := range it.Target.Output {
			b.WriteString(strings.ReplaceAll(l, "```", "'''") + "\n")
		}
		b.WriteString("```\n\n")
	}
}
