package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"simplemessenger/clients/msgr/internal/api"
	"simplemessenger/clients/msgr/internal/config"
)

func (a *app) registerCmd() *cobra.Command {
	var displayName string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "register NICKNAME",
		Short: "Create an account",
		Long: `Create an account. NICKNAME is 3–32 characters of A–Z a–z 0–9 _ . - (unique in any letter case);
the password 8–128 characters. Then log in with msgr login NICKNAME.`,
		Example: `  msgr register ada --display-name "Ada Lovelace"
  printf '%s\n' "$PASSWORD" | msgr register ada --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword(pwStdin, true)
			if err != nil {
				return err
			}
			u, err := a.anonymous().Register(a.ctx, args[0], pw, displayName)
			if err != nil {
				return err
			}
			p := a.printer()
			if p.JSON {
				return p.Doc(u)
			}
			p.Line("registered %s (id %s); log in with: msgr login %s", u.Nickname, u.ID, u.Nickname)
			return nil
		}),
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "display name (default: the nickname)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login NICKNAME",
		Short: "Log in and keep the session in the config directory",
		Long: `Log in. The tokens are kept in the config directory (file mode 0600) for this server, replacing an
earlier session of it; the access token is refreshed with the refresh token when it expires.`,
		Example: `  msgr login ada
  printf '%s\n' "$PASSWORD" | msgr login ada --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			store, err := a.openStore()
			if err != nil {
				return err
			}
			pw, err := a.readPassword(pwStdin, false)
			if err != nil {
				return err
			}
			now := time.Now()
			r, err := a.anonymous().Login(a.ctx, args[0], pw)
			if err != nil {
				return err
			}
			sess := config.Session{Server: a.server, UserID: r.User.ID, Nickname: r.User.Nickname}
			sess.SetTokens(r.AccessToken, r.RefreshToken, time.Duration(r.ExpiresIn)*time.Second, now)
			if err := store.Save(sess); err != nil {
				return fmt.Errorf("saving the session: %w", err)
			}
			p := a.printer()
			if p.JSON {
				return p.Doc(map[string]any{"server": a.server, "user": r.User, "expires_at": sess.ExpiresAt.UTC()})
			}
			p.Line("logged in as %s (%s) on %s", r.User.Nickname, r.User.DisplayName, a.server)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session on the server and forget it",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, sess, err := a.client()
			if err != nil {
				return err
			}
			// A session the server no longer accepts is over anyway: forget it here too. When the server cannot
			// be reached, the session is kept so that logging out can be retried (it would stay valid there).
			if err := c.Logout(a.ctx); err != nil && !api.IsUnauthorized(err) {
				return err
			}
			if err := a.store.Delete(a.server); err != nil {
				return err
			}
			p := a.printer()
			if p.JSON {
				return p.Doc(map[string]any{"server": a.server, "logged_out": sess.Nickname})
			}
			p.Line("logged out %s from %s", sess.Nickname, a.server)
			return nil
		}),
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in user's profile",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.Me(a.ctx)
			if err != nil {
				return err
			}
			return a.printer().User(u)
		}),
	}
}

func (a *app) profileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Show or change profiles",
		Args:  cobra.NoArgs,
	}
	show := &cobra.Command{
		Use:   "show [NICKNAME]",
		Short: "Show a user's profile (your own without NICKNAME)",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			var u api.User
			if len(args) == 0 {
				u, err = c.Me(a.ctx)
			} else {
				u, err = c.UserByNickname(a.ctx, args[0])
			}
			if err != nil {
				return err
			}
			return a.printer().User(u)
		}),
	}
	var displayName, bio string
	set := &cobra.Command{
		Use:     "set",
		Short:   "Change your display name and/or bio",
		Long:    "Change the fields given; the others stay. The display name is 1–64 characters, the bio at most 512 (may be empty).",
		Example: `  msgr profile set --display-name "Ada Lovelace" --bio "Analyst of engines"`,
		Args:    cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			var upd api.ProfileUpdate
			if cmd.Flags().Changed("display-name") {
				upd.DisplayName = &displayName
			}
			if cmd.Flags().Changed("bio") {
				upd.Bio = &bio
			}
			if upd.DisplayName == nil && upd.Bio == nil {
				return usagef("profile set: give --display-name and/or --bio")
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.UpdateMe(a.ctx, upd)
			if err != nil {
				return err
			}
			return a.printer().User(u)
		}),
	}
	set.Flags().StringVar(&displayName, "display-name", "", "new display name")
	set.Flags().StringVar(&bio, "bio", "", "new bio (\"\" clears it)")
	cmd.AddCommand(show, set)
	return cmd
}

func (a *app) avatarCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "avatar",
		Short: "Set or remove your avatar",
		Args:  cobra.NoArgs,
	}
	set := &cobra.Command{
		Use:   "set FILE",
		Short: "Upload a PNG, JPEG or GIF image (at most 1 MiB and 4096×4096 pixels) as your avatar",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			img, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("avatar set: %v", errors.Unwrap(err))
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			// The type comes from the bytes, not the file name; the server checks the image itself.
			ctype := http.DetectContentType(img)
			if err := c.SetAvatar(a.ctx, img, ctype); err != nil {
				return err
			}
			return a.done(map[string]any{"avatar": "set", "content_type": ctype, "bytes": len(img)}, "avatar set (%s, %d bytes)", ctype, len(img))
		}),
	}
	remove := &cobra.Command{
		Use:   "remove",
		Short: "Remove your avatar",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteAvatar(a.ctx); err != nil {
				return err
			}
			return a.done(map[string]any{"avatar": "removed"}, "avatar removed")
		}),
	}
	cmd.AddCommand(set, remove)
	return cmd
}

// done reports a command without an answer body: doc for machines, a line for people.
func (a *app) done(doc any, format string, args ...any) error {
	p := a.printer()
	if p.JSON {
		return p.Doc(doc)
	}
	p.Line(format, args...)
	return nil
}
