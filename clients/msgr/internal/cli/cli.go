// Package cli is the msgr command line: commands, flags, exit codes and error reporting.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"simplemessenger/clients/msgr/internal/api"
	"simplemessenger/clients/msgr/internal/config"
	"simplemessenger/clients/msgr/internal/output"
)

// Exit codes (documented in `msgr help`).
const (
	ExitOK          = 0   // the command did what was asked
	ExitFailure     = 1   // the server refused the request (its error code is shown) or another failure
	ExitUsage       = 2   // wrong command, arguments or flags
	ExitNotLoggedIn = 3   // no session for this server, or it expired or was revoked: log in again
	ExitUnreachable = 4   // no answer from the server (connection refused, timeout, DNS)
	ExitInterrupted = 130 // interrupted by Ctrl-C (except listen, which ends with 0)
)

// DefaultServer is used when neither --server nor MSGR_SERVER is given.
const DefaultServer = "http://127.0.0.1:8080"

// Version is the client's version, sent in the User-Agent.
const Version = "0.1.0"

const exitCodesHelp = `Exit codes:
  0    success
  1    the server refused the request (its error code and message are shown), or another failure
  2    usage error: unknown command, wrong arguments or flags
  3    not logged in to this server, or the session expired or was revoked: run msgr login
  4    the server could not be reached (connection refused, timeout, DNS)
  130  interrupted (Ctrl-C); msgr listen ends with 0 on Ctrl-C

Errors go to standard error as "msgr: <code>: <message> (HTTP <status>)"; with --json as one JSON object
{"error": {"code", "message", "status", "exit_code"}}.`

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// app is one run of msgr: its streams and global flags.
type app struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer

	server    string
	json      bool
	configDir string

	ran   bool // a command's RunE started: later errors are not about the command line
	store *config.Store
}

// Main runs msgr with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, stdin, stdout, stderr)
}

// Run is Main with the context that Ctrl-C cancels.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if !a.ran {
		var ue *usageError
		if !errors.As(err, &ue) {
			err = &usageError{err.Error()}
		}
	}
	return a.report(err)
}

// report prints err and returns its exit code.
func (a *app) report(err error) int {
	e := output.Error{Code: "error", Message: err.Error(), ExitCode: ExitFailure}
	var (
		ue *usageError
		ae *api.Error
		ne *api.UnreachableError
	)
	hint := ""
	switch {
	case errors.As(err, &ue):
		e.Code, e.ExitCode = "usage", ExitUsage
		hint = "run 'msgr help' for usage"
	case api.IsUnauthorized(err):
		e.Code, e.ExitCode = "not_logged_in", ExitNotLoggedIn
		if errors.As(err, &ae) {
			e.Code, e.Message, e.Status = ae.Code, ae.Message, ae.Status
		}
		hint = "log in with: msgr login NICKNAME"
	case errors.As(err, &ae):
		e.Code, e.Message, e.Status = ae.Code, ae.Message, ae.Status
		if ae.RetryAfter != "" {
			e.Message += " (retry after " + ae.RetryAfter + " s)"
		}
	case errors.As(err, &ne):
		e.Code, e.ExitCode = "unreachable", ExitUnreachable
		hint = "is the server running? (--server or MSGR_SERVER; now " + a.server + ")"
	case errors.Is(err, context.Canceled) && a.ctx.Err() != nil:
		e.Code, e.Message, e.ExitCode = "interrupted", "interrupted", ExitInterrupted
	}
	if a.json {
		_ = (&output.Printer{W: a.stderr}).Doc(map[string]any{"error": e})
		return e.ExitCode
	}
	msg := e.Message
	if ae != nil {
		msg = ae.Error()
	}
	fmt.Fprintf(a.stderr, "msgr: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(a.stderr, "msgr: %s\n", hint)
	}
	return e.ExitCode
}

// run marks that the command line was accepted before running fn.
func (a *app) run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		return fn(cmd, args)
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "msgr",
		Short: "msgr is the command-line client of SimpleMessenger",
		Long: `msgr talks to a SimpleMessenger server through its public API: register, log in, find people, make
friends, chat, and listen to live pushes.

Log in once (msgr login NICKNAME); the session is kept in the config directory
(` + "`os.UserConfigDir()/simplemessenger`" + `, mode 0700; the file 0600) per server, and the access token is
refreshed with the refresh token when it expires. Users are named by nickname.

Passwords are read from a prompt without echo, or from standard input with --password-stdin; never from
arguments.

` + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.checkServer()
		},
	}
	def := DefaultServer
	if env := os.Getenv("MSGR_SERVER"); env != "" {
		def = env
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", def, "server URL (environment: MSGR_SERVER)")
	pf.BoolVar(&a.json, "json", false, "machine output: one JSON document per command (one JSON object per line for listen)")
	pf.StringVar(&a.configDir, "config-dir", "", "config directory holding the sessions (default: os.UserConfigDir()/simplemessenger)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.CompletionOptions.HiddenDefaultCmd = true

	root.AddGroup(&cobra.Group{ID: "account", Title: "Account:"}, &cobra.Group{ID: "people", Title: "People:"}, &cobra.Group{ID: "chat", Title: "Chat:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("account", a.registerCmd(), a.loginCmd(), a.logoutCmd(), a.whoamiCmd(), a.profileCmd(), a.avatarCmd())
	add("people", a.searchCmd(), a.friendsCmd(), a.blockCmd(), a.unblockCmd())
	add("chat", a.sendCmd(), a.editCmd(), a.deleteCmd(), a.typingCmd(), a.historyCmd(), a.readCmd(), a.chatsCmd(), a.listenCmd())
	return root
}

// checkServer normalises --server: an http(s) URL with a host, without a trailing slash.
func (a *app) checkServer() error {
	u, err := url.Parse(strings.TrimSpace(a.server))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--server %q: want an http:// or https:// URL", a.server)
	}
	a.server = strings.TrimRight(u.String(), "/")
	return nil
}

func (a *app) printer() *output.Printer {
	return &output.Printer{W: a.stdout, JSON: a.json}
}

func (a *app) openStore() (*config.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	s, err := config.Open(a.configDir)
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	a.store = s
	return s, nil
}

// anonymous is a client without a session (register, login).
func (a *app) anonymous() *api.Client {
	return api.New(a.server, nil, userAgent())
}

// client is a client of the stored session of the server.
func (a *app) client() (*api.Client, config.Session, error) {
	store, err := a.openStore()
	if err != nil {
		return nil, config.Session{}, err
	}
	sess, ok, err := store.Session(a.server)
	if err != nil {
		return nil, sess, err
	}
	if !ok {
		return nil, sess, fmt.Errorf("%w to %s", api.ErrNotLoggedIn, a.server)
	}
	c := api.New(a.server, nil, userAgent())
	c.Tokens = &config.Tokens{Store: store, Server: a.server, Exchange: a.anonymous().RefreshTokens}
	return c, sess, nil
}

// peer is client() and the user the NICKNAME argument names: what every command about one other user starts with.
func (a *app) peer(nickname string) (*api.Client, config.Session, api.User, error) {
	c, sess, err := a.client()
	if err != nil {
		return nil, sess, api.User{}, err
	}
	u, err := c.UserByNickname(a.ctx, nickname)
	return c, sess, u, err
}

func userAgent() string { return "msgr/" + Version }
