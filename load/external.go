package load

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"shutdowntest/load/osobs"
)

// External is a server the tool does not embed: one at a base URL, either
// already running or launched by the tool for each iteration. Its clients
// speak plain HTTP/1.1 and RFC 6455 to the routes given here; the server's
// threads, handles and shutdown steps are in another process and are not
// seen, so what is judged is what the clients, the admission attempts and
// the process's exit show.
type External struct {
	// URL is the server's base URL (http://host:port); PortPlaceholder
	// in it and in Command is replaced by a free loopback port the tool
	// picks for each iteration.
	URL string
	// Command starts the server; empty when it is already running.
	Command []string
	// PID is a server already running whose process to signal and watch
	// (0: none). Only without Command.
	PID     int
	Trigger Trigger
	// The routes: Page for idle HTTP clients, REST for idle REST clients
	// (sent Accept: application/json), Slow for every in-flight client,
	// WSPath for WebSocket clients. An empty route has no clients.
	Page, REST, Slow, WSPath string
	// Header goes on every request and WebSocket handshake.
	Header http.Header
	// ReadyPath must answer 2xx before the clients open (a launched
	// server's readiness; ReadyTimeout bounds it).
	ReadyPath string
	// ExpectExit is the exit status that passes process-exited;
	// KeepsRunning says the trigger leaves the process running
	// (--expect-exit none) and the tool stops it at the end.
	ExpectExit   int
	KeepsRunning bool
	// AdmissionGrace is how long after the trigger a new connection may
	// still be served.
	AdmissionGrace time.Duration
	// ServerLog, when set, receives the server's whole stdout and stderr.
	ServerLog io.Writer
	// StateURL, when set, is the server's state endpoint (package state),
	// opened before the clients and read to its end: the server's threads,
	// shutdown signal and steps, judged as the embedded model's are.
	// StatePortPlaceholder in it and in Command is a second free port.
	StateURL string
	// NoSampling turns off the OS sampling of the server's process (on
	// by default where there is a process; see osobs). Settle is how
	// long after its port closed a server that keeps running is given to
	// end the threads and sockets of its clients before they count as
	// leaked.
	NoSampling bool
	Settle     time.Duration
	// TriggerAt, when set, is the agreed instant of a test shared by
	// several runners (see SyncRecord): the clients hold until then and the
	// trigger (TriggerNone: another runner's) happens at it. RunnerID names
	// this runner in its report.
	TriggerAt time.Time
	RunnerID  string
}

// PortPlaceholder is replaced by a free loopback port in External's URL
// and Command, and by the port as run in a cmd: trigger.
const PortPlaceholder = "{port}"

// PIDPlaceholder is replaced by the server's process id (launched, or
// --pid) in a cmd: trigger.
const PIDPlaceholder = "{pid}"

// TriggerKind is how shutdown is triggered on an external target.
type TriggerKind string

// Trigger kinds.
const (
	TriggerSignal     TriggerKind = "signal"     // a signal to the process
	TriggerHTTP       TriggerKind = "http"       // a request to the server
	TriggerCmd        TriggerKind = "cmd"        // a command run by the platform's shell
	TriggerCtrlBreak  TriggerKind = "ctrl-break" // Windows: CTRL_BREAK_EVENT to a launched process group
	triggerSignalHelp             = "TERM, INT, QUIT or HUP"
)

// Trigger is one way to trigger shutdown (ParseTrigger reads it).
type Trigger struct {
	Kind TriggerKind
	// Signal is the signal's name without SIG (TriggerSignal).
	Signal string
	// Method, Path and Body are the request (TriggerHTTP).
	Method, Path, Body string
	// Command is the shell command (TriggerCmd), PIDPlaceholder and
	// PortPlaceholder in it not yet replaced.
	Command string
}

var methodWord = regexp.MustCompile(`^[A-Z]+$`)

// ParseTrigger reads a trigger as the command line gives it:
// signal:NAME, http:METHOD:PATH[:BODY], cmd:COMMAND, ctrl-break (Windows) or
// none (another runner of a shared test triggers). Errors name what is
// wrong with it, not the flag.
func ParseTrigger(s string) (Trigger, error) {
	if s == string(TriggerNone) {
		return Trigger{Kind: TriggerNone}, nil
	}
	if s == string(TriggerCtrlBreak) {
		if !ctrlBreakSupported {
			return Trigger{}, errors.New("ctrl-break is Windows's; use signal:INT or signal:TERM here")
		}
		return Trigger{Kind: TriggerCtrlBreak}, nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Trigger{}, fmt.Errorf("want signal:NAME, http:METHOD:PATH[:BODY] or cmd:COMMAND, got %q", s)
	}
	switch TriggerKind(kind) {
	case TriggerSignal:
		if !signalsSupported {
			return Trigger{}, errors.New("signal: is not available on Windows; use ctrl-break (sent to a launched process in its own process group)")
		}
		name := strings.TrimPrefix(strings.ToUpper(rest), "SIG")
		if _, ok := signalByName(name); !ok {
			return Trigger{}, fmt.Errorf("signal %q: want %s", rest, triggerSignalHelp)
		}
		return Trigger{Kind: TriggerSignal, Signal: name}, nil
	case TriggerHTTP:
		method, pathBody, _ := strings.Cut(rest, ":")
		path, body, _ := strings.Cut(pathBody, ":")
		if !methodWord.MatchString(method) {
			return Trigger{}, fmt.Errorf("http: method %q: want an upper-case word such as POST", method)
		}
		if !strings.HasPrefix(path, "/") {
			return Trigger{}, fmt.Errorf("http: path %q: want one starting with /", path)
		}
		return Trigger{Kind: TriggerHTTP, Method: method, Path: path, Body: body}, nil
	case TriggerCmd:
		if strings.TrimSpace(rest) == "" {
			return Trigger{}, errors.New("cmd: the command is empty")
		}
		return Trigger{Kind: TriggerCmd, Command: rest}, nil
	}
	return Trigger{}, fmt.Errorf("unknown kind %q: want signal:NAME, http:METHOD:PATH[:BODY] or cmd:COMMAND", kind)
}

// String is the trigger as the command line gives it.
func (t Trigger) String() string {
	switch t.Kind {
	case TriggerSignal:
		return "signal:" + t.Signal
	case TriggerHTTP:
		s := "http:" + t.Method + ":" + t.Path
		if t.Body != "" {
			s += ":" + t.Body
		}
		return s
	case TriggerCmd:
		return "cmd:" + t.Command
	}
	return string(t.Kind)
}

// NeedsProcess says the trigger acts on the server's process, which must
// then be launched or named by PID.
func (t Trigger) NeedsProcess() bool {
	return t.Kind == TriggerSignal || t.Kind == TriggerCtrlBreak
}

// ExternalRecord is what was observed of an external target in one
// iteration. Times are on the iteration's clock, as every time of the
// Iteration.
type ExternalRecord struct {
	// URL and Command are as run, the port filled in.
	URL     string
	Command []string
	// PID is the process launched or given (0: none).
	PID      int
	Launched bool
	Trigger  Trigger
	// TriggerDetail says what the trigger did (the request's answer, the
	// command's status); TriggerErr why it could not be carried out.
	TriggerDetail string
	Exit          ProcessExit
	KeepsRunning  bool
	ExpectExit    int
	// DrainTimeout is the deadline (after the trigger) for the process to
	// exit by itself.
	DrainTimeout time.Duration
	Port         PortCheck
	// Output is the last lines the process wrote on stdout and stderr;
	// OutputLines how many it wrote in all.
	Output      []string
	OutputLines int
	Series      AdmissionSeries
	Grace       time.Duration
	// KeepAlive says why no keep-alive request was sent after the trigger
	// ("" when it was: it is then in Iteration.Admission).
	KeepAlive string
	// State is what the state endpoint said (nil: no --state-url). The
	// iteration's Server record and ShutdownReturned are read from it.
	State *StateRecord
	// OS is what sampling the process from the OS showed; nil when there
	// was no process to sample or sampling was off.
	OS     *osobs.Record
	Settle time.Duration
	// Sync is this runner's part in a shared test (nil without
	// --trigger-at or --runner-id).
	Sync *SyncRecord
}

// ProcessExit is how the server's process ended.
type ProcessExit struct {
	// Exited: it ended while watched (by itself, or killed by the tool).
	Exited bool
	// Status is its exit status; StatusKnown is false when it was ended by
	// a signal, or is not the tool's child (--pid).
	Status      int
	StatusKnown bool
	At          time.Duration
	// Killed: the tool killed its process group (past the deadline, or at
	// the end for a process expected to keep running); KilledAt is when
	// it sent the kill. From then on the kernel, not the server, closes
	// the process's sockets, though the process may still show in /proc
	// for a moment.
	Killed   bool
	KilledAt time.Duration
	// Detail is the system's words: "exit status 0", "signal: terminated".
	Detail string
}

// PortCheck is what the server's port did once the process had ended.
type PortCheck struct {
	Checked  bool
	Refused  bool // a connection to it was refused
	Bindable bool // the tool could listen on it
	Detail   string
}

// AdmissionSeries sums up the new connections attempted every
// admissionEvery from the trigger on, until one was refused.
type AdmissionSeries struct {
	Attempts, Admitted int
	// LastAdmitted and FirstRefused are set when Has... says so.
	LastAdmitted, FirstRefused       time.Duration
	HasLastAdmitted, HasFirstRefused bool
}

// Admission moments of an external target, besides WhenAtTrigger.
const (
	// WhenLastAdmitted is the last connection of the series the server
	// served; WhenFirstRefused the first it refused.
	WhenLastAdmitted When = "last-admitted"
	WhenFirstRefused When = "first-refused"
	// WhenKeepAlive is a request after the trigger on a connection
	// opened and used before it.
	WhenKeepAlive When = "keep-alive"
)
