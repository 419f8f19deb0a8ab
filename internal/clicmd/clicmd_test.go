package clicmd

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// isolate empties the registry for one test and puts back what the
// process registered when the test ends.
func isolate(t *testing.T) {
	t.Helper()
	registry.Lock()
	saved := registry.makers
	registry.makers = nil
	registry.Unlock()
	t.Cleanup(func() {
		registry.Lock()
		registry.makers = saved
		registry.Unlock()
	})
}

// maker returns a maker of a command named name with a --flag option.
func maker(name string) func() *cobra.Command {
	return func() *cobra.Command {
		cmd := &cobra.Command{Use: name + " [--flag <v>]", RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.Flags().String("flag", "default", "a flag")
		return cmd
	}
}

func names(cmds []*cobra.Command) string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Name())
	}
	return strings.Join(out, " ")
}

// TestCommandsOrderedByName: whatever order the packages register in
// (init order follows imports), the commands come out ordered by name.
func TestCommandsOrderedByName(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered []string
		want       string
	}{
		{"none", nil, ""},
		{"one", []string{"keys"}, "keys"},
		{"module's own", []string{"certificates", "keys"}, "certificates keys"},
		{"reversed", []string{"keys", "certificates"}, "certificates keys"},
		{"with the developer tools", []string{"certificates", "keys", "demo", "sandbox", "keygen", "notify"},
			"certificates demo keygen keys notify sandbox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for _, name := range tc.registered {
				Register(maker(name))
			}
			if got := names(Commands()); got != tc.want {
				t.Errorf("Commands() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCommandsAreBuiltAfresh: each call builds new commands, so flags
// parsed on one command line do not carry over to the next.
func TestCommandsAreBuiltAfresh(t *testing.T) {
	isolate(t)
	Register(maker("keys"))
	first := Commands()[0]
	if err := first.ParseFlags([]string{"--flag", "changed"}); err != nil {
		t.Fatal(err)
	}
	second := Commands()[0]
	if second == first {
		t.Fatal("Commands returned the same command twice")
	}
	if v, _ := second.Flags().GetString("flag"); v != "default" {
		t.Errorf("--flag = %q in a new command, want its default", v)
	}
}

// TestRegisterConcurrently: registrations from several goroutines are
// all kept (run with -race to check the locking).
func TestRegisterConcurrently(t *testing.T) {
	isolate(t)
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { Register(maker(string(rune('a' + i%26)))) })
		wg.Go(func() { _ = Commands() })
	}
	wg.Wait()
	got := Commands()
	if len(got) != n {
		t.Fatalf("%d commands, want %d", len(got), n)
	}
	if !slices.IsSortedFunc(got, func(a, b *cobra.Command) int { return strings.Compare(a.Name(), b.Name()) }) {
		t.Errorf("not ordered by name: %s", names(got))
	}
}

// TestInterruptible: the context ends on SIGINT, on SIGTERM, when its
// parent ends and when stopped, and not before.
func TestInterruptible(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a process cannot send itself SIGINT or SIGTERM on Windows")
	}
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Caught here too, so that a context that ignores them fails the test
	// instead of killing the test binary.
	caught := make(chan os.Signal, 2)
	signal.Notify(caught, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(caught)
	for _, tc := range []struct {
		name string
		end  func(parentCancel, stop context.CancelFunc)
	}{
		{"SIGINT", func(_, _ context.CancelFunc) { _ = self.Signal(syscall.SIGINT) }},
		{"SIGTERM", func(_, _ context.CancelFunc) { _ = self.Signal(syscall.SIGTERM) }},
		{"parent cancelled", func(parentCancel, _ context.CancelFunc) { parentCancel() }},
		{"stopped", func(_, stop context.CancelFunc) { stop() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, parentCancel := context.WithCancel(context.Background())
			defer parentCancel()
			ctx, stop := Interruptible(parent)
			defer stop()
			select {
			case <-ctx.Done():
				t.Fatal("done before anything ended it")
			case <-time.After(20 * time.Millisecond):
			}
			tc.end(parentCancel, stop)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("not done 5s after it was ended")
			}
		})
	}
}
