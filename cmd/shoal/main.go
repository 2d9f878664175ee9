// Command shoal is the single Shoal binary: the all-in-one dev process, the
// separate broker, searcher and coordinator roles, and the bulk-index and
// search command-line clients.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shoal:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific process exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "Shoal: a distributed full-text search engine on Bleve and NATS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newDevCmd(),
		newBrokerCmd(),
		newSearcherCmd(),
		newCoordinatorCmd(),
		newCredsCmd(),
		newCertsCmd(),
		newIndexCmd(),
		newSearchCmd(),
		newBenchCmd(),
	)
	return root
}

// bindEnv lets every flag of cmd also be set by an environment variable
// SHOAL_<FLAG> (dashes become underscores), unless the flag was given.
func bindEnv(cmd *cobra.Command) {
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		var err error
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if err != nil || f.Changed {
				return
			}
			name := "SHOAL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			if v, ok := os.LookupEnv(name); ok {
				if serr := f.Value.Set(v); serr != nil {
					err = fmt.Errorf("environment %s=%q: %w", name, v, serr)
				}
			}
		})
		if err != nil {
			return err
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}
