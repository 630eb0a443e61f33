//go:build !unix

package load

// fileLimit: Windows has no per-process open-file limit for sockets.
func fileLimit() (uint64, bool) { return 0, false }
