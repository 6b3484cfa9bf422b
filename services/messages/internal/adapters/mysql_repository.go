// Package adapters holds the messages service's outbound side: the MySQL repository (with its migrations in
// ./migrations) and the clients of the friends and profiles services.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/mysqlx"

	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/domain"
)

// MySQLRepository is app.Repository on MySQL/MariaDB; events go to the platform outbox in the same transaction.
type MySQLRepository struct {
	db    *sql.DB
	group *groupCommitter // nil: each send in its own transaction
}

var _ app.Repository = (*MySQLRepository)(nil)

// NewMySQLRepository uses db, migrated with migrations.FS. It stores each send in its own transaction until
// GroupSends is called.
func NewMySQLRepository(db *sql.DB) *MySQLRepository { return &MySQLRepository{db: db} }

const messageColumns = "m.id, m.sender_id, m.recipient_id, COALESCE(m.client_message_id, ''), m.text, m.created_at, m.edited_at, m.deleted_at"

// The queries over messages, named so that the repository tests EXPLAIN exactly what runs. The ones scoped to
// a chat or a recipient name their index: with ORDER BY id … LIMIT, the optimizer may prefer walking
// messages_id (ids in order) when its estimates say the matching rows are dense, which on a large table turns
// a page into a scan of every chat's messages since the cursor. By construction these indexes are always the
// right ones: the primary key (chat_id, id) for a chat, messages_recipient for a recipient.
const (
	// historyOlder and historyNewer find the chat by its pair (chats_pair, a const lookup the optimizer does
	// before the join) and read a range of the primary key (chat_id, id: the chat's rows, stored together) in
	// index order (backwards for older), so LIMIT stops
	// them after one page and there is no filesort however long the chat is: one round trip per page. It is an
	// inner join on purpose: a LEFT JOIN (to tell "no chat" from "no message on this side of the cursor" in
	// the same statement) makes MariaDB sort the whole chat through a temporary table; an empty page asks
	// chatExists instead.
	historyOlder = "SELECT " + messageColumns + " FROM chats c JOIN messages m FORCE INDEX (PRIMARY) ON m.chat_id = c.id" +
		" WHERE c.user_low = ? AND c.user_high = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?"
	historyNewer = "SELECT " + messageColumns + " FROM chats c JOIN messages m FORCE INDEX (PRIMARY) ON m.chat_id = c.id" +
		" WHERE c.user_low = ? AND c.user_high = ? AND m.id > ? ORDER BY m.id LIMIT ?"
	// chatExists is whether the pair has a chat (chats_pair).
	chatExists = "SELECT 1 FROM chats WHERE user_low = ? AND user_high = ?"
	// chatList reads chat_states_recent backwards (most recent chat first) and each chat's last message by
	// primary key (chat_id, id).
	// chatList also reads the peer's own state of each chat (by primary key) for their read marker.
	chatList = "SELECT s.peer_id, s.unread_count, COALESCE(p.last_read_id, 0), " + messageColumns + ` FROM chat_states s
		JOIN messages m ON m.chat_id = s.chat_id AND m.id = s.last_message_id
		LEFT JOIN chat_states p ON p.user_id = s.peer_id AND p.peer_id = s.user_id
		WHERE s.user_id = ? AND s.last_message_id < ? ORDER BY s.last_message_id DESC LIMIT ?`
	// unreadStart is, over the user's chats that have unread messages (a range of the primary key), the lowest
	// read marker, where the oldest unread message can be at the earliest, and the total unread.
	unreadStart = "SELECT MIN(last_read_id), COALESCE(SUM(unread_count), 0) FROM chat_states WHERE user_id = ? AND unread_count > 0"
	// unreadList walks the user's incoming messages from there in id order (messages_recipient, so the
	// oldest come first without sorting and LIMIT stops the walk) and keeps those above their chat's marker
	// (chat_states by primary key). STRAIGHT_JOIN keeps messages the driving table: the order comes from it.
	unreadList = "SELECT STRAIGHT_JOIN " + messageColumns + ` FROM messages m FORCE INDEX (messages_recipient)
		JOIN chat_states s ON s.user_id = m.recipient_id AND s.peer_id = m.sender_id
		WHERE m.recipient_id = ? AND m.id > ? AND m.id > s.last_read_id AND m.deleted_at IS NULL ORDER BY m.id LIMIT ?`
	// newestAddressed is the newest message of the chat addressed to the reader at or below the id asked
	// for: where a read marker may move to. It walks the chat back from there.
	newestAddressed = "SELECT m.id FROM messages m FORCE INDEX (PRIMARY) WHERE m.chat_id = ? AND m.id <= ? AND m.recipient_id = ? ORDER BY m.id DESC LIMIT 1"
	// unreadAfter counts what stays unread above a marker (deleted messages are nobody's to read); it reads the
	// chat's messages after the marker only.
	unreadAfter = "SELECT COUNT(*) FROM messages m FORCE INDEX (PRIMARY) WHERE m.chat_id = ? AND m.id > ? AND m.recipient_id = ? AND m.deleted_at IS NULL"
)

type scanner interface{ Scan(dest ...any) error }

// messageDest is where a row of messageColumns is scanned to.
func messageDest(m *domain.Message, edited, deleted *sql.NullTime) []any {
	return []any{&m.ID, &m.SenderID, &m.RecipientID, &m.ClientMessageID, &m.Text, &m.CreatedAt, edited, deleted}
}

// finish sets what a scan left in its own destinations: UTC times, and the edit and delete times when set.
func finish(m *domain.Message, edited, deleted sql.NullTime) {
	m.CreatedAt = m.CreatedAt.UTC()
	m.EditedAt, m.DeletedAt = nil, nil
	if edited.Valid {
		t := edited.Time.UTC()
		m.EditedAt = &t
	}
	if deleted.Valid {
		t := deleted.Time.UTC()
		m.DeletedAt = &t
	}
}

func scanMessage(s scanner, before ...any) (domain.Message, error) {
	var (
		m               domain.Message
		edited, deleted sql.NullTime
	)
	if err := s.Scan(append(before, messageDest(&m, &edited, &deleted)...)...); err != nil {
		return domain.Message{}, err
	}
	finish(&m, edited, deleted)
	return m, nil
}

// queryMessages runs a query of messageColumns that returns at most limit rows.
func (r *MySQLRepository) queryMessages(ctx context.Context, limit int, query string, args ...any) ([]domain.Message, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collectMessages(rows, limit)
}

// collectMessages scans every row into one message and its scan destinations, reused row after row (a page
// is the service's most frequent read; a message and its destinations per row were a third of its garbage).
func collectMessages(rows *sql.Rows, limit int) ([]domain.Message, error) {
	var (
		m               domain.Message
		edited, deleted sql.NullTime
	)
	dest := messageDest(&m, &edited, &deleted)
	return mysqlx.CollectN(rows, limit, func(rs *sql.Rows) (domain.Message, error) {
		if err := rs.Scan(dest...); err != nil {
			return domain.Message{}, err
		}
		finish(&m, edited, deleted)
		return m, nil
	})
}

// writeTx runs fn in a transaction at the isolation level given, again when InnoDB chose it as a deadlock victim
// (it was rolled back whole, so running it again is safe), after a short random pause that lets the contenders
// part. Deadlocks remain possible (a retried client message id racing its first try).
//
// A send reads nothing it does not lock (openChat's upsert, then inserts), so it runs at the server's default
// level and pays no SET TRANSACTION round trip. A change and a read marker read rows of the chat without
// locking them after taking its lock, so they run READ COMMITTED, where such a read sees every commit that came
// before the lock; the chat's lock is what orders the writes of a chat at either level.
func (r *MySQLRepository) writeTx(ctx context.Context, level sql.IsolationLevel, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{Isolation: level}
	for attempt := 1; ; attempt++ {
		err := mysqlx.InTxWith(ctx, r.db, opts, fn)
		if attempt == txAttempts || !mysqlx.IsDeadlock(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))):
		}
	}
}

// txAttempts bounds the runs of one write transaction.
const txAttempts = 8

// lockChat returns the id of the chat with key k, locked until the transaction ends; found is false when the
// two have no chat.
func lockChat(ctx context.Context, tx *sql.Tx, k domain.ChatKey) (id int64, found bool, err error) {
	err = tx.QueryRowContext(ctx, "SELECT id FROM chats WHERE user_low = ? AND user_high = ? FOR UPDATE", k.Low, k.High).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("lock chat: %w", err)
	}
	return id, true, nil
}

// openChat creates the chat with key k or, when it exists, locks it, and returns its id, in one statement:
// the upsert takes the row's exclusive lock either way, and LAST_INSERT_ID(id) hands back the id of the row it
// found (each call spends an AUTO_INCREMENT value of chats, which a BIGINT UNSIGNED does not run out of). Two
// first messages of a new chat do not deadlock: the second waits on the first's new row, then locks it.
func openChat(ctx context.Context, tx *sql.Tx, k domain.ChatKey) (int64, error) {
	res, err := tx.ExecContext(ctx, "INSERT INTO chats (user_low, user_high) VALUES (?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)",
		k.Low, k.High)
	if err != nil {
		return 0, fmt.Errorf("open chat: %w", err)
	}
	id, err := res.LastInsertId()
	if err == nil && id == 0 {
		err = errors.New("no id")
	}
	if err != nil {
		return 0, fmt.Errorf("open chat: %w", err)
	}
	return id, nil
}

// errClientIDTaken: the sender already used the client message id; the first message is the answer.
var errClientIDTaken = errors.New("client message id taken")

// Send stores m after locking its chat, so its id is above every id already committed to the chat, alone or
// with other sends (GroupSends).
func (r *MySQLRepository) Send(ctx context.Context, m domain.Message, events app.EventsFunc) (domain.Message, bool, error) {
	stored, err := r.store(ctx, m, events)
	if errors.Is(err, errClientIDTaken) {
		first, err := r.MessageByClientID(ctx, m.SenderID, m.ClientMessageID)
		return first, false, err
	}
	if err != nil {
		return domain.Message{}, false, err
	}
	return stored, true, nil
}

// upsertStates moves both participants' sides of the chat to the new last message and adds to their unread
// counts (0 for the sender's row, first, then 1 for the recipient's), in one statement. A group of sends adds
// a pair of rows per send between its head and its tail.
const (
	upsertStatesHead = "INSERT INTO chat_states (user_id, peer_id, chat_id, last_message_id, unread_count) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)"
	upsertStatesTail = `
	ON DUPLICATE KEY UPDATE last_message_id = VALUES(last_message_id), unread_count = unread_count + VALUES(unread_count)`
	upsertStates = upsertStatesHead + upsertStatesTail
)

// insertMessage inserts a message (a group of sends adds a row per send).
const insertMessage = "INSERT INTO messages (chat_id, sender_id, recipient_id, client_message_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)"

func (r *MySQLRepository) send(ctx context.Context, m domain.Message, events app.EventsFunc) (domain.Message, error) {
	err := r.writeTx(ctx, sql.LevelDefault, func(tx *sql.Tx) error {
		chatID, err := openChat(ctx, tx, domain.NewChatKey(m.SenderID, m.RecipientID))
		if err != nil {
			return err
		}
		var clientID sql.NullString
		if m.ClientMessageID != "" {
			clientID = sql.NullString{String: m.ClientMessageID, Valid: true}
		}
		res, err := tx.ExecContext(ctx, insertMessage, chatID, m.SenderID, m.RecipientID, clientID, m.Text, m.CreatedAt)
		if mysqlx.IsDuplicate(err) {
			return errClientIDTaken
		}
		if err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, upsertStates, m.SenderID, m.RecipientID, chatID, m.ID, 0,
			m.RecipientID, m.SenderID, chatID, m.ID, 1); err != nil {
			return fmt.Errorf("chat states: %w", err)
		}
		evs, err := events(m)
		if err != nil {
			return fmt.Errorf("build events: %w", err)
		}
		return broker.Enqueue(ctx, tx, evs...)
	})
	return m, err
}

// Change locks the chat of userID and peerID, then the message id in it, and lets change decide what the
// message becomes; a change is stored with its events, in one transaction. Deleting a message the recipient had
// not read takes it out of their unread count. ErrMessageNotFound when the chat has no such message.
func (r *MySQLRepository) Change(ctx context.Context, userID, peerID string, id int64, change app.ChangeFunc, events app.EventsFunc) (domain.Message, error) {
	var out domain.Message
	err := r.writeTx(ctx, sql.LevelReadCommitted, func(tx *sql.Tx) error {
		chatID, found, err := lockChat(ctx, tx, domain.NewChatKey(userID, peerID))
		if err != nil {
			return err
		}
		if !found {
			return app.ErrMessageNotFound
		}
		m, err := scanMessage(tx.QueryRowContext(ctx, "SELECT "+messageColumns+
			" FROM messages m WHERE m.chat_id = ? AND m.id = ? FOR UPDATE", chatID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return app.ErrMessageNotFound
		}
		if err != nil {
			return err
		}
		next, changed, err := change(m)
		out = next
		if err != nil || !changed {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE messages SET text = ?, edited_at = ?, deleted_at = ? WHERE chat_id = ? AND id = ?",
			next.Text, next.EditedAt, next.DeletedAt, chatID, id); err != nil {
			return fmt.Errorf("update message: %w", err)
		}
		if next.DeletedAt != nil && m.DeletedAt == nil {
			if _, err := tx.ExecContext(ctx, `UPDATE chat_states SET unread_count = unread_count - 1
				WHERE user_id = ? AND peer_id = ? AND last_read_id < ? AND unread_count > 0`, m.RecipientID, m.SenderID, id); err != nil {
				return fmt.Errorf("unread count: %w", err)
			}
		}
		evs, err := events(next)
		if err != nil {
			return fmt.Errorf("build events: %w", err)
		}
		return broker.Enqueue(ctx, tx, evs...)
	})
	return out, err
}

// MessageByClientID looks the message up by the unique key (sender_id, client_message_id).
func (r *MySQLRepository) MessageByClientID(ctx context.Context, senderID, clientMessageID string) (domain.Message, error) {
	m, err := scanMessage(r.db.QueryRowContext(ctx, "SELECT "+messageColumns+
		" FROM messages m WHERE m.sender_id = ? AND m.client_message_id = ?", senderID, clientMessageID))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Message{}, app.ErrMessageNotFound
	}
	return m, err
}

// History reads one page of the chat of the two users in one statement; only an empty page (the end of the
// chat, a client polling for newer messages, or no chat at all) asks a second time whether the chat exists.
func (r *MySQLRepository) History(ctx context.Context, userID, peerID string, p domain.Page) ([]domain.Message, bool, error) {
	k := domain.NewChatKey(userID, peerID)
	query := historyOlder
	if p.Direction == domain.Newer {
		query = historyNewer
	}
	msgs, err := r.queryMessages(ctx, p.Fetch(), query, k.Low, k.High, p.Cursor, p.Fetch())
	if err != nil || len(msgs) > 0 {
		return msgs, err == nil, err
	}
	var one int
	err = r.db.QueryRowContext(ctx, chatExists, k.Low, k.High).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return msgs, true, nil
}

// MarkRead moves the reader's marker forward under the chat's lock, which orders it after every committed
// send of the chat, so the recount cannot miss a message being sent.
func (r *MySQLRepository) MarkRead(ctx context.Context, readerID, peerID string, upTo int64, event app.ReadEventFunc) (int64, bool, error) {
	var (
		marker int64
		moved  bool
	)
	err := r.writeTx(ctx, sql.LevelReadCommitted, func(tx *sql.Tx) error {
		marker, moved = 0, false
		chatID, found, err := lockChat(ctx, tx, domain.NewChatKey(readerID, peerID))
		if err != nil {
			return err
		}
		if !found {
			return app.ErrNoChat
		}
		if err := tx.QueryRowContext(ctx, "SELECT last_read_id FROM chat_states WHERE user_id = ? AND peer_id = ? FOR UPDATE",
			readerID, peerID).Scan(&marker); err != nil {
			return fmt.Errorf("read marker: %w", err)
		}
		var newest int64
		err = tx.QueryRowContext(ctx, newestAddressed, chatID, upTo, readerID).Scan(&newest)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if marker, moved = domain.AdvanceReadMarker(marker, newest); !moved {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE chat_states SET last_read_id = ?, unread_count = ("+unreadAfter+
			") WHERE user_id = ? AND peer_id = ?", marker, chatID, marker, readerID, readerID, peerID); err != nil {
			return fmt.Errorf("move read marker: %w", err)
		}
		ev, err := event(marker)
		if err != nil {
			return fmt.Errorf("build event: %w", err)
		}
		return broker.Enqueue(ctx, tx, ev)
	})
	if err != nil {
		return 0, false, err
	}
	return marker, moved, nil
}

// Chats reads one page of the user's chat list.
func (r *MySQLRepository) Chats(ctx context.Context, userID string, p domain.Page) ([]domain.ChatSummary, error) {
	rows, err := r.db.QueryContext(ctx, chatList, userID, p.Cursor, p.Fetch())
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, func(rs *sql.Rows) (c domain.ChatSummary, err error) {
		c.LastMessage, err = scanMessage(rs, &c.PeerID, &c.UnreadCount, &c.PeerReadUpTo)
		return c, err
	})
}

// Unread reads the oldest unread messages addressed to the user and the total, both from one snapshot (a
// read-only transaction), so the total counts at least the messages listed.
func (r *MySQLRepository) Unread(ctx context.Context, userID string, limit int) ([]domain.Message, int, error) {
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	var (
		from  sql.NullInt64
		total int
	)
	if err := tx.QueryRowContext(ctx, unreadStart, userID).Scan(&from, &total); err != nil {
		return nil, 0, err
	}
	if !from.Valid || total == 0 {
		return nil, 0, nil
	}
	rows, err := tx.QueryContext(ctx, unreadList, userID, from.Int64, limit)
	if err != nil {
		return nil, 0, err
	}
	msgs, err := collectMessages(rows, limit)
	return msgs, total, err
}

// KnownFriends reads the friendships table: true only for a row that says friends. With GroupSends, the reads
// asked at once share a statement.
func (r *MySQLRepository) KnownFriends(ctx context.Context, k domain.ChatKey) (bool, error) {
	return r.knownFriends(ctx, k)
}

func (r *MySQLRepository) readFriendship(ctx context.Context, k domain.ChatKey) (bool, error) {
	var friends bool
	err := r.db.QueryRowContext(ctx, "SELECT friends FROM friendships WHERE user_low = ? AND user_high = ?", k.Low, k.High).Scan(&friends)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return friends, err
}

// RememberFriends and EndFriendship each write one upsert, ordered by since alone, so that whatever order the
// two arrive in, the row ends as the latest friendship says. MariaDB and MySQL apply an upsert's assignments
// left to right, so friends is decided on the row's since before since moves:
//   - a yes about the friendship that began at since counts only over an older one (a later friendship): an end
//     recorded for the same since, which friends told before answering the unfriending, wins over a yes that
//     friends gave just before it ended, even when that yes is written after;
//   - an end counts over a yes of the same friendship or an older one, never over a later friendship's yes.
const (
	rememberFriends = `INSERT INTO friendships (user_low, user_high, since, friends) VALUES (?, ?, ?, TRUE)
	ON DUPLICATE KEY UPDATE friends = IF(VALUES(since) > since, TRUE, friends), since = GREATEST(since, VALUES(since))`
	endFriendship = `INSERT INTO friendships (user_low, user_high, since, friends) VALUES (?, ?, ?, FALSE)
	ON DUPLICATE KEY UPDATE friends = IF(VALUES(since) >= since, FALSE, friends), since = GREATEST(since, VALUES(since))`
)

// RememberFriends records friends' yes for the friendship that began at since.
func (r *MySQLRepository) RememberFriends(ctx context.Context, k domain.ChatKey, since time.Time) error {
	_, err := r.db.ExecContext(ctx, rememberFriends, k.Low, k.High, since.UTC().Truncate(time.Microsecond))
	return err
}

// EndFriendship records the end of the friendship that began at since.
func (r *MySQLRepository) EndFriendship(ctx context.Context, k domain.ChatKey, since time.Time) error {
	_, err := r.db.ExecContext(ctx, endFriendship, k.Low, k.High, since.UTC().Truncate(time.Microsecond))
	return err
}
