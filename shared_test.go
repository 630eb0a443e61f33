package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad input to a shared test's flags and to merge is one line naming the
// flag or the file, exit 2, before anything runs.
func TestSharedBadInputExit2(t *testing.T) {
	base := []string{"--headless", "--target", "http://127.0.0.1:80", "--trigger", "http:POST:/x"}
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(notJSON, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldSchema := filepath.Join(dir, "old.json")
	if err := os.WriteFile(oldSchema, []byte(`{"schema": "shutdowntest-report/3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(base, "--trigger-at", "tomorrow"), "--trigger-at"},
		{append(base, "--trigger-at", "2020-01-01T00:00:00Z"), "--trigger-at"},
		{append(base, "--trigger-at", time.Now().Add(25*time.Hour).UTC().Format(time.RFC3339)), "--trigger-at"},
		{append(base, "--trigger-at", soon, "--iterations", "2"), "--trigger-at"},
		{append(base, "--trigger-at", soon, "--shutdown-after", "1s"), "--trigger-at"},
		{append(base, "--runner-id", "a b"), "--runner-id"},
		{append(base, "--runner-id", ""), "--runner-id"},
		{[]string{"--headless", "--target", "http://127.0.0.1:80", "--trigger", "none"}, "--trigger"},
		{[]string{"--headless", "--trigger-at", soon}, "--trigger-at"},
		{[]string{"merge"}, "no report"},
		{[]string{"merge", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"merge", notJSON}, "bad.json"},
		{[]string{"merge", oldSchema}, "old.json"},
		{[]string{"merge", "--bogus", oldSchema}, "--bogus"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line naming %s", c.args, code, out, errs, c.want)
		}
	}
}
