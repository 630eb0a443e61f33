package main

// The flags of a test shared by runners on several machines (issue 13):
// --trigger-at, the agreed instant, and --runner-id, the name of this
// runner in its report. `shutdowntest merge` (merge.go) joins their
// reports.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"shutdowntest/load"
)

// maxRunnerID bounds --runner-id: it labels clients in every report.
const maxRunnerID = 64

// sharedFlags are --trigger-at and --runner-id, as given.
type sharedFlags struct{ triggerAt, runnerID string }

func addSharedFlags(fs *pflag.FlagSet) *sharedFlags {
	s := &sharedFlags{}
	fs.StringVar(&s.triggerAt, "trigger-at", "", "RFC 3339 instant at which the trigger happens (external target): runners on several machines hold their clients until then; one gives --trigger, the others --trigger none")
	fs.StringVar(&s.runnerID, "runner-id", "", "this runner's name in its report, for shutdowntest merge (external target)")
	return s
}

// apply checks the flags of a shared test and sets them on x, the external
// target; now is the clock the instant is judged against.
func (s *sharedFlags) apply(fs *pflag.FlagSet, o *options, x *load.External, now time.Time) error {
	if s.runnerID != "" || fs.Changed("runner-id") {
		if s.runnerID == "" || len(s.runnerID) > maxRunnerID || strings.ContainsFunc(s.runnerID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("--runner-id: want 1 to %d characters without spaces or control characters, got %q", maxRunnerID, s.runnerID)
		}
		x.RunnerID = s.runnerID
	}
	if !fs.Changed("trigger-at") {
		if x.Trigger.Kind == load.TriggerNone {
			return errors.New("--trigger: none only with --trigger-at (another runner triggers at that instant)")
		}
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, s.triggerAt)
	switch {
	case err != nil:
		return fmt.Errorf("--trigger-at: want an RFC 3339 instant such as 2026-01-02T15:04:05Z, got %q", s.triggerAt)
	case !at.After(now):
		return fmt.Errorf("--trigger-at: %s is in the past (now %s)", s.triggerAt, now.UTC().Format(time.RFC3339))
	case at.Sub(now) > maxDuration:
		return fmt.Errorf("--trigger-at: %s is more than %gh ahead", s.triggerAt, maxDuration.Hours())
	case o.cfg.Iterations != 1 || fs.Changed("for"):
		return errors.New("--trigger-at: one iteration only (not with --iterations or --for): the instant is one trigger")
	case fs.Changed("shutdown-after"):
		return errors.New("--trigger-at: not with --shutdown-after (the instant is the trigger)")
	case len(o.command) > 0:
		return errors.New("--trigger-at: not with a command after -- (every runner needs the server up before the instant: start it, and give its runner --pid)")
	}
	x.TriggerAt = at
	return nil
}
