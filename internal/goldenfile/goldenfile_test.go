package goldenfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports instead of
// failing the test that runs it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\r\nb\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		got  string
		ok   bool
		line string
	}{
		{"a\nb\n", true, ""}, // CRLF in the file is the same text
		{"a\nc\n", false, "line 2"},
		{"a\nb\nextra\n", false, "line 3"},
		{"a\nb", false, "line 3"},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		if ok := Check(r, path, []byte(c.got), "rerun"); ok != c.ok || (len(r.errs) == 0) != c.ok {
			t.Errorf("%q: ok %v, errors %q", c.got, ok, r.errs)
		}
		if !c.ok && (len(r.errs) != 1 || !strings.Contains(r.errs[0], c.line) || !strings.Contains(r.errs[0], "rerun")) {
			t.Errorf("%q: report %q does not name %s and the command", c.got, r.errs, c.line)
		}
	}
}
