package reports

import (
	"fmt"
	"strings"

	"shutdowntest/load"
	"shutdowntest/target/kernel"
)

// CheckHostileHandled is the hostile clients' check (load.HostileRoles).
const CheckHostileHandled = "hostile-handled"

// checkHostile: every hostile client ended as its row of the hostile table
// says (load.Role.Passes: the right error, or a drop), and the thread that
// served it ended by itself: before the trigger for a role the server
// rejects at once, after it, by the end of the drain, for a lasting one.
// That shutdown still completed in its budget is shutdown-completed's.
func checkHostile(it *load.Iteration) Check {
	var threads map[int]kernel.ThreadRecord // made at the first hostile client
	var bad []string
	n, nbad := 0, 0
	for _, c := range it.Clients {
		h, ok := load.HostileOf(c.Role)
		if !ok {
			continue
		}
		n++
		if threads == nil {
			threads = map[int]kernel.ThreadRecord{}
			for _, th := range it.Server.ClientThreads() {
				threads[th.ID] = th
			}
		}
		why := hostileWrong(it, h, c, threads)
		if why == "" {
			continue
		}
		if nbad++; nbad <= maxListed {
			bad = append(bad, fmt.Sprintf("client %d (%s): %s", c.ID, c.Role, why))
		}
	}
	switch {
	case n == 0:
		return newCheck(StatusSkip, 0, "no hostile clients")
	case !it.Ready:
		return newCheck(StatusSkip, 0, "not observed: the clients were not all in their intended states at the trigger")
	case nbad > 0:
		if nbad > maxListed {
			bad = append(bad, fmt.Sprintf("and %d more", nbad-maxListed))
		}
		return newCheck(StatusFail, n, "%d/%d hostile clients handled; %s", n-nbad, n, strings.Join(bad, "; "))
	}
	return newCheck(StatusPass, n, "%d/%d hostile clients answered or dropped as expected, their threads ended", n, n)
}

// hostileWrong says what went wrong with hostile client c, "" if nothing.
func hostileWrong(it *load.Iteration, h load.Hostile, c load.ClientResult, threads map[int]kernel.ThreadRecord) string {
	if !c.Role.Passes(c.Outcome) {
		return fmt.Sprintf("%s (%s), want %s", c.Outcome, c.Detail, outcomeList(h.Passes))
	}
	th, ok := threads[c.Thread]
	switch {
	case !ok:
		return "no server thread served it"
	case !th.Exited || th.Forced:
		return fmt.Sprintf("server thread %d never ended by itself", th.ID)
	case !h.Lasting && th.ExitedAt >= it.Trigger:
		return fmt.Sprintf("server thread %d ended only at %s, after the trigger", th.ID, at(it, th.ExitedAt))
	case h.Lasting && th.ExitedAt < it.Trigger:
		return fmt.Sprintf("server thread %d ended at %s, before the trigger it was to be held through", th.ID, at(it, th.ExitedAt))
	}
	return ""
}

func outcomeList(os []load.Outcome) string {
	words := make([]string, len(os))
	for i, o := range os {
		words[i] = string(o)
	}
	return strings.Join(words, " or ")
}

// hostileMix is the configured hostile clients by role, nil without any.
func hostileMix(m load.Mix) map[string]int {
	var out map[string]int
	for _, h := range load.HostileRoles() {
		if n := m.HostileCount(h.Role); n > 0 {
			if out == nil {
				out = map[string]int{}
			}
			out[string(h.Role)] = n
		}
	}
	return out
}
