//go:build !unix

package main

import (
	"errors"
	"net"
	"time"
)

func startHolder(net.Listener, time.Duration, bool) error {
	return errors.New("-holder is only available on unix")
}
