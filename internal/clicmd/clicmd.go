// Package clicmd collects the subcommands of `caddy wechatpay` from the
// packages that add them: the module's own (certificates, keys) and, in a
// build that includes the devtools package, the developer tools (demo,
// sandbox, keygen, notify).
package clicmd

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
)

var registry struct {
	sync.Mutex
	makers []func() *cobra.Command
}

// Register adds a subcommand; newCommand builds it each time the command
// line is parsed. Packages call it from init.
func Register(newCommand func() *cobra.Command) {
	registry.Lock()
	defer registry.Unlock()
	registry.makers = append(registry.makers, newCommand)
}

// Commands builds every registered subcommand, ordered by name.
func Commands() []*cobra.Command {
	registry.Lock()
	makers := slices.Clone(registry.makers)
	registry.Unlock()
	cmds := make([]*cobra.Command, 0, len(makers))
	for _, newCommand := range makers {
		cmds = append(cmds, newCommand())
	}
	slices.SortFunc(cmds, func(a, b *cobra.Command) int { return strings.Compare(a.Name(), b.Name()) })
	return cmds
}

// Interruptible returns ctx, cancelled also on SIGINT or SIGTERM, for a
// command that runs until stopped.
func Interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
