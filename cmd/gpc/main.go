// Command gpc is the GP Collections system: extraction, calculation,
// declaration and payment, served over SSH. This package is wiring only.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands are registered by each command file's init, so that each
// capability keeps its wiring in its own file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "gpc",
		Short:         "GP Collections: extract, calculate, declare, approve and pay GP quality services",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	d := defaultConfig()
	root.PersistentFlags().String("data", d.Data, configUsage["data"])
	root.PersistentFlags().String("as", d.As, configUsage["as"])
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// exitError carries a specific exit status (e.g. 2 for a failed check).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gpc:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func init() {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the gpc version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				fmt.Fprintf(cmd.OutOrStdout(), "gpc %s\n", version)
				return nil
			},
		}
	})
}
