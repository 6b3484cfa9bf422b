package cli

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"simplemessenger/clients/msgr/internal/api"
	"simplemessenger/clients/msgr/internal/output"
)

func (a *app) sendCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send NICKNAME TEXT...",
		Short: "Send a message to a friend (TEXT - reads it from standard input)",
		Long: `Send a message to a friend. The words of TEXT are joined with spaces; "-" reads the text from standard
input instead (a trailing line break is dropped). Messages are 1–4000 characters.`,
		Example: `  msgr send bob "hello, Bob"
  fortune | msgr send bob -`,
		Args: cobra.MinimumNArgs(2),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			text := strings.Join(args[1:], " ")
			if text == "-" {
				b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
				if err != nil {
					return err
				}
				text = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			}
			if strings.TrimSpace(text) == "" {
				return usagef("send: the text is empty")
			}
			c, _, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			// An idempotency key: a send repeated by the HTTP layer never makes a second message.
			m, err := c.Send(a.ctx, peer.ID, text, randomID())
			if err != nil {
				return err
			}
			return a.done(m, "sent #%s to %s", m.ID, peer.Nickname)
		}),
	}
	return cmd
}

func (a *app) editCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "edit NICKNAME ID TEXT...",
		Short:   "Change the text of one of your messages to a user (ID as history shows it, without #)",
		Example: `  msgr edit bob 1042 "hello, Bob (corrected)"`,
		Args:    cobra.MinimumNArgs(3),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			id := strings.TrimPrefix(args[1], "#")
			if err := validCursor("ID", id); err != nil || id == "" {
				return usagef("edit: ID must be a message id (a positive number)")
			}
			text := strings.Join(args[2:], " ")
			if strings.TrimSpace(text) == "" {
				return usagef("edit: the text is empty")
			}
			c, _, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			m, err := c.Edit(a.ctx, peer.ID, id, text)
			if err != nil {
				return err
			}
			return a.done(m, "edited #%s", m.ID)
		}),
	}
}

func (a *app) deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NICKNAME ID",
		Short:   "Delete one of your messages to a user, for both of you (ID as history shows it, without #)",
		Example: `  msgr delete bob 1042`,
		Args:    cobra.ExactArgs(2),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			id := strings.TrimPrefix(args[1], "#")
			if err := validCursor("ID", id); err != nil || id == "" {
				return usagef("delete: ID must be a message id (a positive number)")
			}
			c, _, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			if err := c.Delete(a.ctx, peer.ID, id); err != nil {
				return err
			}
			return a.done(map[string]any{"user": peer, "id": id, "deleted": true}, "deleted #%s", id)
		}),
	}
}

func (a *app) typingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "typing NICKNAME",
		Short: "Tell a friend that you are typing (they see it for a few seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, _, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			if err := c.Typing(a.ctx, peer.ID); err != nil {
				return err
			}
			return a.done(map[string]any{"user": peer, "typing": true}, "told %s you are typing", peer.Nickname)
		}),
	}
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// chatNames names the two users of a chat without asking the server.
func chatNames(me, myNick string, peer api.User) output.Namer {
	return output.NamerFunc(func(id string) string {
		switch id {
		case me:
			return myNick
		case peer.ID:
			return peer.Nickname
		}
		return id
	})
}

func validCursor(flag, v string) error {
	if v == "" {
		return nil
	}
	if n, err := strconv.ParseUint(v, 10, 63); err != nil || (n == 0 && flag == "--before") {
		return usagef("%s must be a message id (a positive number)", flag)
	}
	return nil
}

func (a *app) historyCmd() *cobra.Command {
	var limit int
	var before, after string
	cmd := &cobra.Command{
		Use:   "history NICKNAME",
		Short: "Show the chat with a user, a page at a time",
		Long: `Show the newest messages of the chat with NICKNAME (oldest at the top). Page back with --before ID (the
id printed at the end of a page); read newer messages with --after ID.`,
		Example: `  msgr history bob --limit 20
  msgr history bob --before 120
  msgr history bob --after 140`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 100 {
				return usagef("--limit must be 1 to 100")
			}
			if before != "" && after != "" {
				return usagef("give --before or --after, not both")
			}
			if err := validCursor("--before", before); err != nil {
				return err
			}
			if err := validCursor("--after", after); err != nil {
				return err
			}
			c, sess, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			page, err := c.History(a.ctx, peer.ID, api.HistoryQuery{Before: before, After: after, Limit: limit})
			if err != nil {
				return err
			}
			p := a.printer()
			if err := p.History(page, chatNames(sess.UserID, sess.Nickname, peer)); err != nil || p.JSON {
				return err
			}
			switch {
			case page.NextBefore != nil && *page.NextBefore != "":
				p.Line("(older: msgr history %s --before %s)", peer.Nickname, *page.NextBefore)
			case page.NextAfter != nil && len(page.Items) == limit:
				p.Line("(newer: msgr history %s --after %s)", peer.Nickname, *page.NextAfter)
			}
			return nil
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "messages per page (1–100)")
	cmd.Flags().StringVar(&before, "before", "", "only messages older than this id (the next page back)")
	cmd.Flags().StringVar(&after, "after", "", "only messages newer than this id, oldest first (catching up)")
	return cmd
}

func (a *app) readCmd() *cobra.Command {
	var upTo string
	cmd := &cobra.Command{
		Use:   "read NICKNAME",
		Short: "Mark the chat with a user read (up to its newest message, or --up-to ID)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if err := validCursor("--up-to", upTo); err != nil || upTo == "0" {
				return usagef("--up-to must be a message id (a positive number)")
			}
			c, _, peer, err := a.peer(args[0])
			if err != nil {
				return err
			}
			if upTo == "" {
				page, err := c.History(a.ctx, peer.ID, api.HistoryQuery{Limit: 1})
				if err != nil {
					return err
				}
				if len(page.Items) == 0 {
					return a.done(map[string]any{"user": peer, "up_to_id": nil}, "no messages with %s", peer.Nickname)
				}
				upTo = page.Items[0].ID
			}
			if err := c.MarkRead(a.ctx, peer.ID, upTo); err != nil {
				return err
			}
			return a.done(map[string]any{"user": peer, "up_to_id": upTo}, "marked the chat with %s read up to #%s", peer.Nickname, upTo)
		}),
	}
	cmd.Flags().StringVar(&upTo, "up-to", "", "the newest message id to mark read (default: the chat's newest)")
	return cmd
}

func (a *app) chatsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "chats",
		Short: "List your chats, most recent first, with unread counts",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			c, sess, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Chats(a.ctx)
			if err != nil {
				return err
			}
			return a.printer().Chats(l, sess.UserID)
		}),
	}
}
