// Command mtlsplit plans where to split a multi-task DNN between an edge
// device and a server.
package main

import (
	"os"

	"github.com/mtlsplit/mtlsplit/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
