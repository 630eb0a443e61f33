package main

// The command line of the steady traffic through the shutdown (issue 13):
// --rate and what shapes it.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"shutdowntest/load"
)

// rateFlags are the traffic's flags, as given.
type rateFlags struct {
	fs                 *pflag.FlagSet
	rate, mode, path   string
	workers, maxFailed int
}

// rateOnly are the flags that mean something only with --rate.
var rateOnly = []string{"rate-mode", "rate-path", "rate-workers", "max-failed"}

// defaultRateWorkers is --rate-workers' default: enough requests in flight
// for a server that answers in a millisecond at 50,000 a second.
const defaultRateWorkers = 64

func addRateFlags(fs *pflag.FlagSet) *rateFlags {
	r := &rateFlags{fs: fs}
	fs.StringVar(&r.rate, "rate", "", "send steady traffic through the shutdown: `R` requests a second on schedule (an open model), or max: as fast as --rate-workers can go (a benchmark)")
	fs.StringVar(&r.mode, "rate-mode", string(load.RateNew), "the traffic's connections: new (one per request), reuse (keep-alive, from a pool) or both")
	fs.StringVar(&r.path, "rate-path", "", "the traffic's route (default: the page route; for the embedded target a Web UI page)")
	fs.IntVar(&r.workers, "rate-workers", defaultRateWorkers, "the cap on the traffic's requests in flight (a request due past it is not sent, and counted); with --rate max the workers")
	fs.IntVar(&r.maxFailed, "max-failed", 0, "how many failed requests of the traffic no-failed-requests allows")
	return r
}

// apply reads the flags into cfg.Rate (nil without --rate).
func (r *rateFlags) apply(cfg *load.Config) error {
	if r.rate == "" {
		for _, name := range rateOnly {
			if r.fs.Changed(name) {
				return fmt.Errorf("--%s: needs --rate", name)
			}
		}
		return nil
	}
	rt := load.Rate{Workers: r.workers, Path: r.path, MaxFailed: r.maxFailed}
	if r.rate == "max" {
		rt.Max = true
	} else {
		v, err := strconv.ParseFloat(r.rate, 64)
		switch {
		case err != nil:
			return fmt.Errorf("--rate: want requests a second or max, got %q", r.rate)
		case !(v > 0 && v <= load.MaxRatePerSecond):
			return fmt.Errorf("--rate: must be more than 0 and at most %d, got %q", load.MaxRatePerSecond, r.rate)
		}
		rt.PerSecond = v
	}
	m, err := load.ParseRateMode(r.mode)
	if err != nil {
		return fmt.Errorf("--rate-mode: %v", err)
	}
	rt.Mode = m
	switch {
	case r.workers < 1 || r.workers > load.MaxRateWorkers:
		return fmt.Errorf("--rate-workers: must be from 1 to %d, got %d", load.MaxRateWorkers, r.workers)
	case r.maxFailed < 0:
		return fmt.Errorf("--max-failed: must be 0 or more, got %d", r.maxFailed)
	case r.path != "" && !strings.HasPrefix(r.path, "/"):
		return fmt.Errorf("--rate-path: must start with /, got %q", r.path)
	}
	cfg.Rate = &rt
	return nil
}
