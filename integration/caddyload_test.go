package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// loadCaddyfile loads config into this process's Caddy and returns once the
// new configuration alone serves.
//
// Caddy starts the new configuration's servers, answers /load, and stops the
// previous ones in goroutines of their own. Until such a goroutine runs, the
// previous server's listening socket (SO_REUSEPORT: every configuration has
// its own) still takes a share of new connections, and resets them when it
// closes. A test that sends requests at once, and counts them, would count
// drops of the previous test's server as its own.
func loadCaddyfile(t *testing.T, tester *caddytest.Tester, config string) {
	t.Helper()
	tester.InitServer(config, "caddyfile")
	if t.Failed() || t.Skipped() {
		t.FailNow()
	}
	awaitOneServerPerPort(t, config)
}

// awaitOneServerPerPort waits until no test port has more than one listening
// socket, then checks that each plain-HTTP port a site address of config
// names (":port") answers a request on a fresh connection. A port the new
// configuration does not use may still be held, for a moment, by the
// previous one's server as it stops: it is not probed.
func awaitOneServerPerPort(t *testing.T, config string) {
	t.Helper()
	ports := []int{testPorts.http, testPorts.https, testPorts.reload}
	deadline := time.Now().Add(15 * time.Second)
	for {
		counts, err := listeningSockets(ports)
		if err != nil {
			t.Fatalf("counting listening sockets: %v", err)
		}
		crowded := []string{}
		for _, p := range ports {
			if counts[p] > 1 {
				crowded = append(crowded, fmt.Sprintf("%d (%d sockets)", p, counts[p]))
			}
		}
		if len(crowded) == 0 {
			for _, p := range []int{testPorts.http, testPorts.reload} {
				if counts[p] == 1 && strings.Contains(config, ":"+strconv.Itoa(p)) {
					probeServer(t, p)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the previous configuration's servers still listen on port %s 15 s after the new one loaded", strings.Join(crowded, ", "))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// probeServer sends OPTIONS * on fresh connections until one is answered:
// Go's server answers it itself, so no handler runs and nothing reaches a
// stand-in. A connection that the previous configuration's server took as
// it stopped (a socket the test shares between configurations, as systemd
// socket activation does) is closed unanswered; the probe then tries again.
func probeServer(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, err := optionsStar(port)
		if err == nil && strings.HasPrefix(status, "HTTP/1.1 200") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new configuration's server on port %d answered %q (%v)", port, status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func optionsStar(port int) (string, error) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// listeningSockets counts the TCP sockets in the LISTEN state on each of
// ports, from the kernel's socket tables (every SO_REUSEPORT socket is a row
// of its own).
func listeningSockets(ports []int) (map[int]int, error) {
	want := map[string]int{}
	for _, p := range ports {
		want[fmt.Sprintf("%04X", p)] = p
	}
	counts := map[int]int{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if os.IsNotExist(err) && table == "/proc/net/tcp6" {
			continue // no IPv6 on this kernel
		}
		if err != nil {
			return nil, err
		}
		for _, line := range bytes.Split(data, []byte("\n"))[1:] {
			f := strings.Fields(string(line))
			if len(f) < 4 || f[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			_, port, ok := strings.Cut(f[1], ":")
			if p, mine := want[port]; ok && mine {
				counts[p]++
			}
		}
	}
	return counts, nil
}
