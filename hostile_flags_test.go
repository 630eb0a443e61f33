package main

import (
	"io"
	"strings"
	"testing"

	"shutdowntest/load"
)

func TestHostileFlags(t *testing.T) {
	o, err := parseFlags([]string{"--hostile", "2", "--garbage", "0", "--slowloris=3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range load.HostileRoles() {
		want := map[load.Role]int{"garbage": 0, "slowloris": 3}[h.Role]
		if h.Role != "garbage" && h.Role != "slowloris" {
			want = 2
		}
		if got := o.cfg.Mix.HostileCount(h.Role); got != want {
			t.Errorf("--%s: %d clients, want %d", h.Role, got, want)
		}
	}
	if got, want := o.cfg.Mix.Total(), 6+2*(len(load.HostileRoles())-2)+3; got != want {
		t.Errorf("total %d, want %d", got, want)
	}
	if !strings.Contains(strings.Join(o.runFlags, " "), "--slowloris=3") {
		t.Errorf("reproduce flags %v lack --slowloris=3", o.runFlags)
	}
	o, err = parseFlags([]string{"--http-idle=0", "--http-inflight=0", "--rest-idle=0", "--rest-inflight=0", "--ws=0", "--silent=0", "--bad-key-wrong", "1"}, io.Discard)
	if err != nil || o.cfg.Mix.Total() != 1 {
		t.Errorf("one hostile client alone: %v, %d clients", err, o.cfg.Mix.Total())
	}
}

func TestHostileFlagsRefuseNegativeCounts(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--hostile", "-1"}, "--hostile:"},
		{[]string{"--ws-noread", "-2"}, "--ws-noread:"},
		{[]string{"--hostile", "1", "--halfclose=-1"}, "--halfclose:"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tc.flag) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line starting %q", tc.args, err, tc.flag)
		}
	}
}
