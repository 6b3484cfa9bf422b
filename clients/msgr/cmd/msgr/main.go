// Command msgr is the command-line client of the SimpleMessenger public API (see `msgr help`).
package main

import (
	"os"

	"simplemessenger/clients/msgr/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
