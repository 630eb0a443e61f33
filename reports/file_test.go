package reports

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// text renders s, as a report writer would.
func text(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTemps fails when a temporary file of a write is left in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil || len(left) > 0 {
		t.Errorf("temporary files left: %v %v", left, err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
}

func TestWriteReplacesRegularFileKeepingItsMode(t *testing.T) {
	dir := t.TempDir()
	old, fresh := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")
	if err := os.WriteFile(old, []byte("old report, longer than the new one"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	for _, p := range []string{old, fresh, fresh} {
		if err := b.Write(p, p, text("new")); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, p); got != "new" {
			t.Errorf("%s holds %q", p, got)
		}
	}
	noTemps(t, dir)
	if err := b.Write("missing", filepath.Join(dir, "missing", "r.json"), text("x")); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
	if runtime.GOOS == "windows" {
		return // no Unix permission bits
	}
	for p, want := range map[string]fs.FileMode{old: 0o600, fresh: 0o644} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

// A link is written through: the file at the end of the chain gets the
// report, and each link stays a link to what it named.
func TestWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	file, link, link2 := filepath.Join(dir, "t.json"), filepath.Join(dir, "l"), filepath.Join(dir, "l2")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, "t.json", link)
	symlink(t, link, link2)
	if err := NewBatch().Write("--json l2", link2, text("new")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, file); got != "new" {
		t.Errorf("the link's target holds %q", got)
	}
	for l, want := range map[string]string{link: "t.json", link2: link} {
		if got, err := os.Readlink(l); err != nil || got != want {
			t.Errorf("%s: now %q (%v), want a link to %q", l, got, err, want)
		}
	}
	noTemps(t, dir)
}

// A dangling link names the file to create, relative to the link's own
// directory.
func TestWriteThroughDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "sub", "l")
	symlink(t, filepath.Join("..", "r.md"), link)
	if err := CheckWritable(link); err != nil {
		t.Fatal(err)
	}
	if err := NewBatch().Write("--markdown l", link, text("report")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "r.md")); got != "report" {
		t.Errorf("the named file holds %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v %v", fi, err)
	}
}

// Target resolves a relative link inside a linked directory where the
// kernel would: in the real directory, not lexically beside the link.
func TestTargetResolvesLinkedDirectoriesAndLoops(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, real, filepath.Join(dir, "linked"))
	symlink(t, filepath.Join("..", "x.html"), filepath.Join(real, "l"))
	got, err := Target(filepath.Join(dir, "linked", "l"))
	if want := filepath.Join(dir, "a", "x.html"); err != nil || got != want {
		t.Errorf("Target = %q (%v), want %q", got, err, want)
	}
	loop := filepath.Join(dir, "loop")
	symlink(t, "loop", loop)
	if _, err := Target(loop); err == nil {
		t.Error("a link to itself resolved")
	}
	if err := CheckWritable(loop); err == nil {
		t.Error("a link to itself passed the check")
	}
}

func TestDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("check: %v", err)
	}
	if err := NewBatch().Write("--json dir", dir, text("x")); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("write: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the directory got %v", entries)
	}
}

// Abandoning a batch in the middle of a write (as a second Ctrl-C does)
// removes the temporary file, leaves the old report in place, and makes
// every later write fail before it creates anything.
func TestAbandonMidWriteRemovesTheTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	done, mid, later := filepath.Join(dir, "done.json"), filepath.Join(dir, "mid.xml"), filepath.Join(dir, "later.md")
	if err := os.WriteFile(mid, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewBatch("--json done", "--junit mid", "--markdown later")
	if err := b.Write("--json done", done, text("written")); err != nil {
		t.Fatal(err)
	}
	var left []string
	err := b.Write("--junit mid", mid, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half a rep"); err != nil {
			return err
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				return err
			}
		}
		if temps, _ := filepath.Glob(filepath.Join(dir, ".mid.xml.tmp-*")); len(temps) != 1 {
			t.Errorf("while writing, temporary files %v, want one", temps)
		}
		left = b.Abandon()
		// The process exits right after Abandon: the file must be gone now,
		// not when this write unwinds.
		noTemps(t, dir)
		return nil
	})
	if !errors.Is(err, errAbandoned) {
		t.Errorf("the abandoned write returned %v", err)
	}
	rendered := false
	if err := b.Write("--markdown later", later, func(io.Writer) error { rendered = true; return nil }); !errors.Is(err, errAbandoned) || rendered {
		t.Errorf("a write after Abandon: %v, rendered %v", err, rendered)
	}
	if want := []string{"--junit mid", "--markdown later"}; !slices.Equal(left, want) {
		t.Errorf("Abandon said %q not written, want %q", left, want)
	}
	noTemps(t, dir)
	if got := readFile(t, mid); got != "old" {
		t.Errorf("the report being written now holds %q", got)
	}
	if _, err := os.Stat(later); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the later report exists: %v", err)
	}
	if got := readFile(t, done); got != "written" {
		t.Errorf("the report written before holds %q", got)
	}
}

// A report path that is the process's own stdout, redirected to a file
// (--markdown /dev/stdout > out.txt), gets the report after the summary
// already written there; a rename would have replaced the file and lost
// the summary.
func TestBatchWritesToItsOwnStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	stdout, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	if _, err := stdout.WriteString("summary\n"); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "stdout")
	if err := os.Symlink(path, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	b := NewBatch("--markdown " + link)
	b.WriteStreams(stdout)
	err = b.Write("--markdown "+link, link, func(w io.Writer) error {
		_, err := io.WriteString(w, "report\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "summary\nreport\n" {
		t.Errorf("file holds %q, want the summary then the report", got)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the stream's file was replaced, not written to")
	}
}
