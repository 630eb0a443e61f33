package reports

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// directWriteTimeout bounds the write to a report path that is not a
// regular file (a FIFO, a device): a reader that stops reading must not
// hold the verdict's exit hostage. A variable so a test can shorten it.
var directWriteTimeout = 10 * time.Second

// maxLinkHops is how many symbolic links Target follows before it gives
// up, as the kernel's ELOOP does.
const maxLinkHops = 40

// A Batch writes the report files of one run. It can be abandoned
// part-way from another goroutine (a second Ctrl-C before os.Exit):
// Abandon removes every temporary file that exists, makes any further
// write fail before it creates one, and says which reports were not
// written. The zero Batch has nothing pending and is ready to write.
type Batch struct {
	mu        sync.Mutex
	abandoned bool
	pending   []string            // labels not yet written, in order
	temps     map[string]struct{} // temporary files that exist now
	// streams are the process's own open outputs (stdout, stderr): a
	// report path that is one of them (/dev/stdout with stdout
	// redirected to a file) is written to the stream, after what it
	// already holds, not renamed over it.
	streams []*os.File
}

// WriteStreams names the files the process already writes to (stdout,
// stderr). A report path that turns out to be one of them, through
// links, is appended to that stream rather than replaced: replacing it
// would lose the summary already written there.
func (b *Batch) WriteStreams(fs ...*os.File) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.streams = append(b.streams, fs...)
}

// NewBatch is a Batch that expects the reports labels name (for example
// "--json r.json"); Abandon returns the ones not yet written.
func NewBatch(labels ...string) *Batch {
	return &Batch{pending: slices.Clone(labels)}
}

var errAbandoned = errors.New("abandoned: the tool is quitting")

// Write writes the report render produces to path and marks label
// written. What "write" means depends on what path is:
//   - a regular file or a new one is replaced atomically, so a reader (a
//     CI step, a dashboard polling the file) sees the old report or the
//     whole new one, never half, even if the tool is killed mid-write: the
//     report goes to a temporary file beside it (rename is atomic only
//     within one file system), is synced, and is renamed over it; the
//     replaced file's permissions are kept (0644 for a new file);
//   - a symbolic link is written through: the file it names, at the end of
//     any chain of links, is replaced as above and the link stays a link
//     (a dangling link names the file to create);
//   - anything else that is not a directory (a FIFO, a character device,
//     /dev/stdout) is opened and written to as it is, never renamed over:
//     renaming would replace the device node with a regular file. The write
//     is bounded: a FIFO nobody reads is an error at once, and a reader
//     that has not taken the whole report within directWriteTimeout is one then.
//
// A failed write leaves no temporary file and the old file untouched.
func (b *Batch) Write(label, path string, render func(io.Writer) error) error {
	err := b.write(path, render)
	if err == nil {
		b.mu.Lock()
		if i := slices.Index(b.pending, label); i >= 0 {
			b.pending = slices.Delete(b.pending, i, i+1)
		}
		b.mu.Unlock()
	}
	return err
}

func (b *Batch) write(path string, render func(io.Writer) error) error {
	b.mu.Lock()
	abandoned := b.abandoned
	b.mu.Unlock()
	if abandoned {
		return fmt.Errorf("write %s: %w", path, errAbandoned)
	}
	fi, err := stat(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return writeDirect(path, render)
	}
	if s := b.stream(fi); s != nil {
		if err := writeTo(s, render); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	target, err := Target(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	mode := fs.FileMode(0o644)
	if fi != nil {
		mode = fi.Mode().Perm()
	}
	if err := b.replace(target, mode, render); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replace puts what render writes in place of target atomically.
func (b *Batch) replace(target string, mode fs.FileMode, render func(io.Writer) error) (err error) {
	dir := filepath.Dir(target)
	f, err := b.createTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			b.removeTemp(tmp)
		}
	}()
	// CreateTemp makes the file 0600; a report is meant to be read by the
	// users and tools that could read the file it replaces.
	if err = f.Chmod(mode); err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err = render(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err = b.rename(tmp, target); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// createTemp creates and registers a temporary file under the lock, so
// that Abandon either sees it or has already refused it.
func (b *Batch) createTemp(dir, pattern string) (*os.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned {
		return nil, errAbandoned
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if b.temps == nil {
		b.temps = map[string]struct{}{}
	}
	b.temps[f.Name()] = struct{}{}
	return f, nil
}

// rename moves a finished temporary file over target under the lock, so
// an abandoned batch renames nothing after Abandon returns.
func (b *Batch) rename(tmp, target string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned {
		return errAbandoned
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	delete(b.temps, tmp)
	return nil
}

func (b *Batch) removeTemp(tmp string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = os.Remove(tmp)
	delete(b.temps, tmp)
}

// Abandon removes every temporary file of a write in progress, makes every
// later write fail without creating one, and returns the labels of the
// reports not written. Safe to call from any goroutine, more than once.
func (b *Batch) Abandon() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.abandoned = true
	for tmp := range b.temps {
		_ = os.Remove(tmp)
	}
	clear(b.temps)
	return slices.Clone(b.pending)
}

// stream is the stream among b.streams that fi is, or nil.
func (b *Batch) stream(fi fs.FileInfo) *os.File {
	if fi == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.streams {
		if st, err := s.Stat(); err == nil && os.SameFile(fi, st) {
			return s
		}
	}
	return nil
}

// writeTo renders the report whole, then writes it to f.
func writeTo(f *os.File, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	_, err := f.Write(buf.Bytes())
	return err
}

// writeDirect writes the report to a path that is not a regular file. The
// report is rendered first, so a reader never gets half of one because a
// writer failed.
func writeDirect(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := openDirect(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("write %s: its reader did not take the whole report within %v", path, directWriteTimeout)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// stat is what a report written to path would land in, through links:
// nil for a file still to be created, an error for a directory.
func stat(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, errors.New("it is a directory")
	}
	return fi, nil
}

// Target is the file a report path names, absolute and free of symbolic
// links: through any chain of links (a dangling one names the file to
// create) and through linked directories. The directory it is in must
// exist; the file need not.
func Target(path string) (string, error) {
	p := path
	for range maxLinkHops {
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		p = filepath.Join(dir, filepath.Base(p))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode()&fs.ModeSymlink == 0) {
			return filepath.Abs(p)
		}
		if err != nil {
			return "", err
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			// dir has no links left, so joining lexically is exact.
			link = filepath.Join(dir, link)
		}
		p = link
	}
	return "", fmt.Errorf("%s: more than %d symbolic links in a row", path, maxLinkHops)
}

// CheckWritable says before a run, not after it, whether a report can be
// written to path. It never opens path itself: opening a FIFO blocks or
// hands a reader an empty report, and opening a device can act on it. A
// FIFO or a device is checked with stat and access; for a regular or a new
// file a temporary file is created and removed in the directory the file
// is (or would be) in.
func CheckWritable(path string) error {
	fi, err := stat(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if fi != nil && !fi.Mode().IsRegular() {
		if err := canWrite(path); err != nil {
			return fmt.Errorf("cannot write %s: %v", path, err)
		}
		return nil
	}
	target, err := Target(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(target), ".shutdowntest-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// syncDir makes the rename itself durable. It is best effort: the new
// file is already in place and readable, and some file systems refuse to
// sync a directory, so failing the write here would misreport it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
