//go:build !linux && !windows

package osobs

func open(int, uint16) (source, error) { return nil, ErrUnavailable }
