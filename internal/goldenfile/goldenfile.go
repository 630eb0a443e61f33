// Package goldenfile compares test output with a file under testdata, or
// rewrites the file when the tests run with -update. The report writers'
// tests and the terminal view's tests share it.
package goldenfile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag. A test binary may link another package that defines
// the same flag (teatest's golden package does, in the tui tests), and
// the flag package panics on a second definition: so it is defined here
// only when absent, and read by name. Packages are initialised in import
// path order where nothing else decides, so github.com/... comes first.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata from the current output")
	}
}

// Updating reports whether the tests run with -update.
func Updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	v, _ := g.Get().(bool)
	return v
}

// Check compares got with the file at path, or rewrites the file under
// -update. A difference fails the test, naming the first line that
// differs and the command that accepts the change (rerun); Check returns
// whether got matched.
func Check(t testing.TB, path string, got []byte, rerun string) bool {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return true
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: %s)", err, rerun)
	}
	// A checkout with CRLF line ends (git on Windows) holds the same file.
	g, w := string(got), strings.ReplaceAll(string(b), "\r\n", "\n")
	if g == w {
		return true
	}
	gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
	line := func(l []string, i int) string {
		if i < len(l) {
			return fmt.Sprintf("%q", l[i])
		}
		return "end of file"
	}
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	t.Errorf("%s differs at line %d:\n got %s\nwant %s\n(if the change is intended: %s)", path, i+1, line(gl, i), line(wl, i), rerun)
	return false
}
