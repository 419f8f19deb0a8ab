package testkit

import "net"

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func FreePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
