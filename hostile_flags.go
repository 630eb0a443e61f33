package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"shutdowntest/load"
)

// hostileFlags are the hostile roles' count flags: one --ROLE N per row of
// the hostile table, and --hostile N for N of every role at once (a role's
// own flag, when given, wins over it).
type hostileFlags struct {
	fs    *pflag.FlagSet
	all   int
	roles []load.Role
	n     []int
}

// addHostileFlags registers the hostile flags on fs, after the ordinary
// counts.
func addHostileFlags(fs *pflag.FlagSet) *hostileFlags {
	h := &hostileFlags{fs: fs}
	fs.IntVar(&h.all, "hostile", 0, "open N clients of every hostile role below at once")
	roles := load.HostileRoles()
	h.n = make([]int, len(roles))
	for i, r := range roles {
		h.roles = append(h.roles, r.Role)
		fs.IntVar(&h.n[i], string(r.Role), 0, fmt.Sprintf("hostile %s clients: %s",
			r.Kind, strings.ReplaceAll(r.Sends, "`", ""))) // pflag would take a `quoted` word for the value's name
	}
	return h
}

// apply sets the hostile counts of m from the parsed flags. Every error
// names its flag.
func (h *hostileFlags) apply(m *load.Mix) error {
	if h.all < 0 {
		return fmt.Errorf("--hostile: must be 0 or more, got %d", h.all)
	}
	for i, r := range h.roles {
		n := h.all
		if h.fs.Changed(string(r)) {
			n = h.n[i]
		}
		if n < 0 {
			return fmt.Errorf("--%s: must be 0 or more, got %d", r, n)
		}
		m.SetHostile(r, n)
	}
	return nil
}
