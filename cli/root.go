// Package cli is the mtlsplit command line: one file per command, each with
// an options struct and a run function that tests call with buffers.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// IO is where a command reads and writes, plus an injectable clock so that
// outputs are reproducible in tests.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Now      func() time.Time
}

// internalError marks a failure of the program rather than of its input.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// internal wraps err as an internal failure (exit code 1).
func internal(err error) error {
	if err == nil {
		return nil
	}
	return internalError{err}
}

// ExitCode maps an error to the process exit code: 0 for none, 1 for an
// internal failure, 2 for bad input (the default: nearly every error here
// comes from what the user asked for).
func ExitCode(err error) int {
	var ie internalError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ie):
		return 1
	}
	return 2
}

// NewRoot builds the command tree.
func NewRoot(io *IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "mtlsplit",
		Short: "Plan where to split a multi-task DNN between an edge device and a server",
		Long: "mtlsplit searches every split of a multi-task network (cut, encoding of the sent tensor,\n" +
			"side of each task head) for the exact optimum on a given edge device, server and network,\n" +
			"and writes a deployment plan with its baselines and the bandwidths at which it changes.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetIn(io.In)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(NewCmdModels(io), NewCmdInspect(io), NewCmdHW(io), NewCmdPlan(io), NewCmdSweep(io), NewCmdExperiment(io), NewCmdCalibrate(io), NewCmdInfer(io), NewCmdProfile(io), NewCmdServe(io), NewCmdRun(io), NewCmdData(io), NewCmdTrain(io), NewCmdExport(io))
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group refuse a subcommand it
// does not have, with one "did you mean". Cobra checks that only at the
// root (in a multi-line message): below it a group that cannot run prints
// its help and succeeds, so a typo such as "experiment scenario" would exit
// 0 having done nothing.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		var names []string
		for _, s := range cmd.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		return fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), suggest.Hint(args[0], names))
	}
}

// Main runs the CLI and returns the exit code. Errors print as one line;
// a panic is caught and reported as an internal error, never a stack trace.
func Main(args []string, in io.Reader, out, errw io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(errw, "mtlsplit: internal error: %v\n", r)
			code = 1
		}
	}()
	io := &IO{In: in, Out: out, Err: errw, Now: time.Now}
	root := NewRoot(io)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		fmt.Fprintf(errw, "mtlsplit: %s\n", oneLine(err.Error()))
	}
	return ExitCode(err)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
