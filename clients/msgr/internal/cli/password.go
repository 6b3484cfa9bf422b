package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readPassword reads a password from the first line of standard input (fromStdin) or from a prompt without
// echo on the terminal; confirm asks twice (registration), so a typo does not lock the user out.
func (a *app) readPassword(fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("--password-stdin: no password on standard input")
		}
		return pw, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("standard input is not a terminal: give the password with --password-stdin")
	}
	pw, err := prompt(f, a.stderr, "Password: ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := prompt(f, a.stderr, "Password again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", usagef("the passwords do not match")
		}
	}
	return pw, nil
}

func prompt(tty *os.File, w io.Writer, label string) (string, error) {
	fmt.Fprint(w, label)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}
