package cli

import (
	"github.com/spf13/cobra"

	"simplemessenger/clients/msgr/internal/api"
)

func (a *app) searchCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "search NICKNAME",
		Short: "Find users whose nickname starts with NICKNAME (an exact match first)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 50 {
				return usagef("--limit must be 1 to 50")
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			users, err := c.SearchUsers(a.ctx, args[0], limit)
			if err != nil {
				return err
			}
			return a.printer().Users(users)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many users (1–50)")
	return cmd
}

func (a *app) friendsCmd() *cobra.Command {
	var status string
	list := func(status string) error {
		c, _, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.Friends(a.ctx, status)
		if err != nil {
			return err
		}
		return a.printer().Friends(l)
	}
	listRun := a.run(func(cmd *cobra.Command, args []string) error {
		switch status {
		case "all", api.StatusAccepted, api.StatusIncoming, api.StatusOutgoing:
		default:
			return usagef("--status must be all, accepted, incoming or outgoing")
		}
		return list(status)
	})
	cmd := &cobra.Command{
		Use:   "friends [list|pending|add|accept|decline|remove|block|unblock|blocked]",
		Short: "List friends and requests; add, accept, decline, remove or block people",
		Long: `Without a subcommand, lists your friends and friend requests (both ways).
  friends pending       requests others sent you, waiting for your answer
  friends add NICK      ask NICK to be friends (if NICK had asked you, you are friends at once)
  friends accept NICK   accept NICK's request
  friends decline NICK  decline NICK's request
  friends remove NICK   end the friendship, or cancel your request to NICK
  friends block NICK    block NICK: no more requests or messages from them, the friendship ends (they are not told)
  friends unblock NICK  lift the block
  friends blocked       the people you block`,
		Args: cobra.NoArgs,
		RunE: listRun,
	}
	cmd.Flags().StringVar(&status, "status", "all", "all, accepted, incoming or outgoing")
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List friends and friend requests",
		Args:  cobra.NoArgs,
		RunE:  listRun,
	}
	listCmd.Flags().StringVar(&status, "status", "all", "all, accepted, incoming or outgoing")
	pending := &cobra.Command{
		Use:   "pending",
		Short: "List friend requests waiting for your answer",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			return list(api.StatusIncoming)
		}),
	}
	byNick := a.byNick
	add := byNick("add", "Ask a user to be friends", func(c *api.Client, u api.User) error {
		r, err := c.RequestFriend(a.ctx, u.ID)
		if err != nil {
			return err
		}
		doc := map[string]any{"user": u, "status": r.Status}
		if r.Status == api.StatusAccepted {
			return a.done(doc, "you and %s are friends now (%s had asked you)", u.Nickname, u.Nickname)
		}
		return a.done(doc, "friend request sent to %s", u.Nickname)
	})
	accept := byNick("accept", "Accept a user's friend request", func(c *api.Client, u api.User) error {
		r, err := c.AcceptFriend(a.ctx, u.ID)
		if err != nil {
			return err
		}
		return a.done(map[string]any{"user": u, "status": r.Status}, "you and %s are friends now", u.Nickname)
	})
	decline := byNick("decline", "Decline a user's friend request", func(c *api.Client, u api.User) error {
		if err := c.DeclineFriend(a.ctx, u.ID); err != nil {
			return err
		}
		return a.done(map[string]any{"user": u, "status": "declined"}, "declined %s's friend request", u.Nickname)
	})
	remove := byNick("remove", "End a friendship, or cancel your request", func(c *api.Client, u api.User) error {
		if err := c.RemoveFriend(a.ctx, u.ID); err != nil {
			return err
		}
		return a.done(map[string]any{"user": u, "status": "removed"}, "removed %s", u.Nickname)
	})
	block, unblock := a.blockCmd(), a.unblockCmd()
	blocked := &cobra.Command{
		Use:   "blocked",
		Short: "List the people you block",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Blocks(a.ctx)
			if err != nil {
				return err
			}
			return a.printer().Blocks(l)
		}),
	}
	cmd.AddCommand(listCmd, pending, add, accept, decline, remove, block, unblock, blocked)
	return cmd
}

// blockCmd and unblockCmd are `friends block|unblock NICK`, and `block|unblock NICK` at the top too.
func (a *app) blockCmd() *cobra.Command {
	return a.byNick("block", "Block a user: no requests or messages from them any more; they are not told", func(c *api.Client, u api.User) error {
		if err := c.Block(a.ctx, u.ID); err != nil {
			return err
		}
		return a.done(map[string]any{"user": u, "status": "blocked"}, "blocked %s", u.Nickname)
	})
}

func (a *app) unblockCmd() *cobra.Command {
	return a.byNick("unblock", "Lift your block of a user", func(c *api.Client, u api.User) error {
		if err := c.Unblock(a.ctx, u.ID); err != nil {
			return err
		}
		return a.done(map[string]any{"user": u, "status": "unblocked"}, "unblocked %s", u.Nickname)
	})
}

// byNick is a command USE NICKNAME that runs fn with the user NICKNAME names.
func (a *app) byNick(use, short string, fn func(c *api.Client, u api.User) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " NICKNAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, u, err := a.peer(args[0])
			if err != nil {
				return err
			}
			return fn(c, u)
		}),
	}
}
