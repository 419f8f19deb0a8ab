package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// startCaddyProcesses builds Caddy with the module (bench/caddybin) into
// dir and runs n processes of it, the i-th with the Caddyfile caddyfile(i,
// addr) for a free loopback addr; it returns the addresses once every one
// accepts connections. The processes end with the test; a failed test
// shows their output.
func startCaddyProcesses(t *testing.T, dir string, n int, caddyfile func(i int, addr string) string) []string {
	t.Helper()
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "../bench/caddybin").CombinedOutput(); err != nil {
		t.Fatalf("building Caddy: %v\n%s", err, out)
	}
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort())
		addrs = append(addrs, addr)
		cfg := testkit.WriteFile(t, dir, fmt.Sprintf("Caddyfile%d", i), caddyfile(i, addr))
		cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("instance %d:\n%s", i, logs.String())
			}
		})
	}
	for _, addr := range addrs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Caddy on %s did not start", addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return addrs
}
