//go:build !linux

package testkit

import "net"

// reservePort returns a port nothing listens on now: without Linux's
// socket options it cannot be held.
func reservePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
