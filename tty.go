package main

import "os"

// isTerminal reports whether f is a character device, which is what a
// terminal is to the process on every platform Go runs on.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
