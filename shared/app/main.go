package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/pg"
)

// Configurer is a service's config: anything embedding Config.
type Configurer interface{ Base() Config }

// Command is a subcommand of a service binary besides "migrate", such as
// "auth rotate-keys": it runs once with the loaded config and exits.
type Command[C Configurer] struct {
	Name string
	Run  func(ctx context.Context, cfg C, out io.Writer) error
}

// Main is the whole of a service's main: it reads the config with load
// (every problem reported on one line, exit 2), then either applies the
// migrations ("<svc> migrate") or listens on HTTP_ADDR and calls run until
// SIGINT or SIGTERM, or runs one of cmds. It returns the process exit code.
func Main[C Configurer](args []string, stderr io.Writer, load func(*config.Reader) (C, error), sets []pg.Migrations,
	run func(ctx context.Context, cfg C, ln net.Listener, out io.Writer) error, cmds ...Command[C]) int {
	name := "service"
	if len(args) > 0 {
		name = args[0]
	}
	cfg, err := load(config.FromEnv())
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	base := cfg.Base()
	if len(args) > 1 {
		switch args[1] {
		case "migrate":
			if len(sets) == 0 {
				fmt.Fprintf(stderr, "%s: no database, nothing to migrate\n", name)
				return 0
			}
			if err := pg.Migrate(ctx, string(base.DatabaseURL), sets...); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return 1
			}
			fmt.Fprintf(stderr, "%s: migrations applied\n", name)
			return 0
		}
		for _, c := range cmds {
			if c.Name == args[1] {
				if err := c.Run(ctx, cfg, os.Stdout); err != nil {
					fmt.Fprintf(stderr, "%s %s: %v\n", name, c.Name, err)
					return 1
				}
				return 0
			}
		}
		names := []string{"migrate"}
		for _, c := range cmds {
			names = append(names, c.Name)
		}
		fmt.Fprintf(stderr, "%s: unknown command %q (want no argument, or one of %s)\n", name, args[1], strings.Join(names, ", "))
		return 2
	}
	ln, err := net.Listen("tcp", base.HTTPAddr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if err := run(ctx, cfg, ln, os.Stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
