package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx"

	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/domain"
)

// GroupCommit is how concurrent sends share transactions (docs/performance.md, "Group commit").
//
// A send does not wait to be grouped: it joins a queue, and a transaction starts at once whenever fewer than
// Transactions are running. Only sends that arrive while every one of them is busy wait, for the next one, and
// that one stores up to Max of them together: under no load a send is alone in its transaction, and under load
// the wait is at most one transaction, while the statements and the commit are shared.
type GroupCommit struct {
	// Max is the most sends one transaction stores; 1 stores each send alone, as it comes.
	Max int
	// Transactions is how many send transactions run at once (each on its own database connection).
	Transactions int
}

// DefaultGroupCommit is the setting measured in docs/performance.md.
func DefaultGroupCommit() GroupCommit { return GroupCommit{Max: 64, Transactions: 2} }

// Validate names what is wrong with g.
func (g GroupCommit) Validate() error {
	if g.Max < 1 || g.Max > 1000 {
		return fmt.Errorf("the most sends in one transaction must be between 1 and 1000, not %d", g.Max)
	}
	if g.Transactions < 1 {
		return fmt.Errorf("send transactions at once must be at least 1, not %d", g.Transactions)
	}
	return nil
}

// sendTimeout bounds a group's transaction when none of its sends has a deadline of its own.
const sendTimeout = 10 * time.Second

// pendingSend is one Send waiting for its group's transaction.
type pendingSend struct {
	ctx    context.Context
	m      domain.Message
	events app.EventsFunc
	done   chan sendResult
}

type sendResult struct {
	m   domain.Message
	err error
}

// queue groups the requests (sends, friendship reads) that arrive while every one of its runs is busy: a
// request starts a run at once when fewer than runs are going, else it waits, and the next free run takes up
// to max waiting requests, oldest first, and does them together.
type queue[T any] struct {
	max, runs int
	do        func(group []T)

	mu      sync.Mutex
	waiting []T
	running int
}

// add queues p; do answers it.
func (q *queue[T]) add(p T) {
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	if q.running < q.runs {
		q.running++
		go q.drain()
	}
	q.mu.Unlock()
}

// drain does groups until nobody waits.
func (q *queue[T]) drain() {
	for {
		q.mu.Lock()
		n := min(len(q.waiting), q.max)
		if n == 0 {
			q.running--
			q.waiting = nil // let the array go; the next request starts a new one
			q.mu.Unlock()
			return
		}
		group := slices.Clone(q.waiting[:n])
		q.waiting = q.waiting[n:]
		q.mu.Unlock()
		q.do(group)
	}
}

// groupCommitter stores groups of sends, and reads groups of friendships, for MySQLRepository.
type groupCommitter struct {
	queue   *queue[*pendingSend]
	friends *queue[*pendingFriends]
	sizes   prometheus.Histogram

	// ids tells whether the ids of one multi-row INSERT are consecutive (step apart): InnoDB's
	// "traditional" and "consecutive" AUTO_INCREMENT lock modes (0, 1) promise it, "interleaved" (2, which
	// Galera requires) does not; there every send is stored alone. Read on the first group, again after a
	// failed read.
	idsMu       sync.Mutex
	idsKnown    bool
	consecutive bool
	step        int64
}

// GroupSends makes the repository store concurrent sends together (g.Max 1: each alone), counting the sends
// per transaction in reg's messages_send_group_size. Call it before the repository is used.
func (r *MySQLRepository) GroupSends(g GroupCommit, reg prometheus.Registerer) (*MySQLRepository, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if g.Max == 1 {
		r.group = nil
		return r, nil
	}
	sizes, err := metrics.RegisterOrReuse(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "messages_send_group_size",
		Help:    "Sends stored per send transaction (group commit): 1 when the service is not busy.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
	}))
	if err != nil {
		return nil, err
	}
	c := &groupCommitter{sizes: sizes}
	c.queue = &queue[*pendingSend]{max: g.Max, runs: g.Transactions, do: func(group []*pendingSend) { r.commitGroup(c, group) }}
	c.friends = &queue[*pendingFriends]{max: g.Max, runs: g.Transactions, do: r.readFriends}
	r.group = c
	return r, nil
}

// store writes m alone, or in a group when grouping is on.
func (r *MySQLRepository) store(ctx context.Context, m domain.Message, events app.EventsFunc) (domain.Message, error) {
	if r.group == nil {
		return r.send(ctx, m, events)
	}
	p := &pendingSend{ctx: ctx, m: m, events: events, done: make(chan sendResult, 1)}
	r.group.queue.add(p)
	// The answer is the truth about p whatever happens to the caller meanwhile: once p is in a transaction,
	// it is stored or not with its whole group.
	res := <-p.done
	return res.m, res.err
}

// commitGroup stores a group and answers each of its sends. A send whose caller gave up before the group began
// is answered with its context's error and stored nowhere.
func (r *MySQLRepository) commitGroup(c *groupCommitter, group []*pendingSend) {
	live := stillWanted(group)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupContext(live)
	defer cancel()
	// alone stores each send in a transaction of its own, with its own trace, within the group's deadline.
	alone := func() {
		deadline, _ := ctx.Deadline()
		for _, p := range live {
			pctx, cancel := context.WithDeadline(context.WithoutCancel(p.ctx), deadline)
			m, err := r.send(pctx, p.m, p.events)
			cancel()
			if err == nil {
				c.sizes.Observe(1)
			}
			p.done <- sendResult{m, err}
		}
	}
	if len(live) == 1 {
		alone()
		return
	}
	consecutive, step := c.consecutiveIDs(ctx, r.db)
	if !consecutive {
		alone()
		return
	}
	ctx, span := otel.Tracer("simplemessenger/services/messages").Start(ctx, "send group commit",
		trace.WithLinks(links(live)...), trace.WithAttributes(attribute.Int("messages.group.size", len(live))))
	stored, err := r.sendGroup(ctx, live, step)
	span.End()
	var stmt *statementError
	if err != nil && errors.As(err, &stmt) && ctx.Err() == nil {
		// A statement of the group failed (a client message id used twice, most likely) and nothing of the
		// group was written: each send runs alone, so that one send's fault is its own.
		alone()
		return
	}
	if err == nil {
		c.sizes.Observe(float64(len(live)))
	}
	for i, p := range live {
		if err != nil {
			p.done <- sendResult{err: err}
			continue
		}
		p.done <- sendResult{m: stored[i]}
	}
}

// request is a send or a friendship read waiting for its group.
type request interface {
	context() context.Context
	// giveUp answers the request with err.
	giveUp(err error)
}

func (p *pendingSend) context() context.Context    { return p.ctx }
func (p *pendingSend) giveUp(err error)            { p.done <- sendResult{err: err} }
func (p *pendingFriends) context() context.Context { return p.ctx }
func (p *pendingFriends) giveUp(err error)         { p.done <- friendsResult{err: err} }

// stillWanted answers the requests of group whose callers gave up before it began with their context's error,
// and returns the others.
func stillWanted[T request](group []T) []T {
	live := group[:0:0]
	for _, p := range group {
		if err := p.context().Err(); err != nil {
			p.giveUp(err)
			continue
		}
		live = append(live, p)
	}
	return live
}

// groupContext is the context of a group's statements: the first request's trace, so that a request alone is
// traced as it was before grouping, and the latest deadline among the requests (sendTimeout when none has
// one). It is not cancelled with any one request: the others are in the same statements.
func groupContext[T request](group []T) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range group {
		d, ok := p.context().Deadline()
		if !ok {
			latest = time.Now().Add(sendTimeout)
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(group[0].context()), latest)
}

// links ties a group's span to the traces of its sends.
func links(group []*pendingSend) []trace.Link {
	out := make([]trace.Link, 0, len(group))
	for _, p := range group {
		if sc := trace.SpanContextFromContext(p.ctx); sc.IsValid() {
			out = append(out, trace.Link{SpanContext: sc})
		}
	}
	return out
}

// consecutiveIDs tells whether a multi-row INSERT's ids are consecutive, and their step, from the server's
// AUTO_INCREMENT settings, read once; until they are known (the read failed), sends are stored alone.
func (c *groupCommitter) consecutiveIDs(ctx context.Context, db *sql.DB) (bool, int64) {
	c.idsMu.Lock()
	defer c.idsMu.Unlock()
	if c.idsKnown {
		return c.consecutive, c.step
	}
	var mode int
	if err := db.QueryRowContext(ctx, "SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment").Scan(&mode, &c.step); err != nil {
		slog.WarnContext(ctx, "group commit: cannot read the AUTO_INCREMENT settings; this group's sends are stored alone", "error", err)
		return false, 0
	}
	c.idsKnown, c.consecutive = true, mode < 2 && c.step >= 1
	if !c.consecutive {
		slog.Warn("group commit off: innodb_autoinc_lock_mode is 2 (interleaved), so a multi-row INSERT's ids may not be consecutive",
			"innodb_autoinc_lock_mode", mode, "auto_increment_increment", c.step)
	}
	return c.consecutive, c.step
}

// statementError is a group's statement that failed before the commit: the transaction was rolled back whole.
type statementError struct{ err error }

func (e *statementError) Error() string { return e.err.Error() }
func (e *statementError) Unwrap() error { return e.err }

// sendGroup stores the sends of group in one transaction and returns them stored, in the group's order. It is
// the statements of one send, each written once for the whole group: the chats are created or locked by one
// upsert (in key order, the order every group locks them in) and their ids read back, the messages inserted by
// one statement (in the group's order within each chat, so each chat keeps the order its sends came in), both
// participants' chat states moved by one upsert, and every event written to the outbox by one insert.
func (r *MySQLRepository) sendGroup(ctx context.Context, group []*pendingSend, step int64) ([]domain.Message, error) {
	order := make([]int, len(group))
	for i := range order {
		order[i] = i
	}
	keys := make([]domain.ChatKey, len(group))
	for i, p := range group {
		keys[i] = domain.NewChatKey(p.m.SenderID, p.m.RecipientID)
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(keys[a], keys[b]) })
	out := make([]domain.Message, len(group))
	err := r.writeTx(ctx, sql.LevelDefault, func(tx *sql.Tx) error {
		chats, err := openChats(ctx, tx, keys, order)
		if err != nil {
			return &statementError{err}
		}
		first, err := insertMessages(ctx, tx, group, order, chats, keys)
		if err != nil {
			return &statementError{err}
		}
		states := make([]any, 0, 10*len(group))
		traced := make([]broker.Traced, 0, len(group))
		for i, idx := range order {
			m := group[idx].m
			m.ID = first + int64(i)*step
			out[idx] = m
			chat := chats[keys[idx]]
			states = append(states, m.SenderID, m.RecipientID, chat, m.ID, 0, m.RecipientID, m.SenderID, chat, m.ID, 1)
			evs, err := group[idx].events(m)
			if err != nil {
				return &statementError{fmt.Errorf("build events: %w", err)}
			}
			traced = append(traced, broker.Traced{Ctx: group[idx].ctx, Events: evs})
		}
		// Two sends of one chat are two pairs of rows with the same keys: the second pair's update moves
		// last_message_id on (its id is the higher) and adds its unread count to the first's.
		if _, err := tx.ExecContext(ctx, upsertStatesHead+strings.Repeat(", (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)", len(group)-1)+
			upsertStatesTail, states...); err != nil {
			return &statementError{fmt.Errorf("chat states: %w", err)}
		}
		if err := broker.EnqueueTraced(ctx, tx, traced...); err != nil {
			return &statementError{err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// keysWhere is the condition that matches the rows of keys in a table keyed by (user_low, user_high), each key
// a range of that index, and its arguments; keys must not be empty.
func keysWhere(keys []domain.ChatKey) (string, []any) {
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k.Low, k.High)
	}
	return "(user_low = ? AND user_high = ?)" + strings.Repeat(" OR (user_low = ? AND user_high = ?)", len(keys)-1), args
}

func compareKeys(a, b domain.ChatKey) int {
	if c := strings.Compare(a.Low, b.Low); c != 0 {
		return c
	}
	return strings.Compare(a.High, b.High)
}

// openChats creates the chats of the group that do not exist and locks them all, in key order, by one upsert,
// then reads their ids (FOR UPDATE: the rows as committed, which the locks already hold).
func openChats(ctx context.Context, tx *sql.Tx, keys []domain.ChatKey, order []int) (map[domain.ChatKey]int64, error) {
	distinct := make([]domain.ChatKey, 0, len(order))
	for _, idx := range order {
		if len(distinct) == 0 || distinct[len(distinct)-1] != keys[idx] {
			distinct = append(distinct, keys[idx])
		}
	}
	where, args := keysWhere(distinct)
	if _, err := tx.ExecContext(ctx, "INSERT INTO chats (user_low, user_high) VALUES (?, ?)"+
		strings.Repeat(", (?, ?)", len(distinct)-1)+" ON DUPLICATE KEY UPDATE id = id", args...); err != nil {
		return nil, fmt.Errorf("open chats: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, user_low, user_high FROM chats WHERE "+where+" FOR UPDATE", args...)
	if err != nil {
		return nil, fmt.Errorf("read chat ids: %w", err)
	}
	chats := make(map[domain.ChatKey]int64, len(distinct))
	found, err := mysqlx.Collect(rows, func(rs *sql.Rows) (k domain.ChatKey, err error) {
		var id int64
		err = rs.Scan(&id, &k.Low, &k.High)
		chats[k] = id
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chat ids: %w", err)
	}
	if len(found) != len(distinct) {
		return nil, fmt.Errorf("read chat ids: %d of %d chats", len(found), len(distinct))
	}
	return chats, nil
}

// insertMessages inserts the group's messages in order by one statement and returns the first one's id; the
// others follow it one AUTO_INCREMENT step apart.
func insertMessages(ctx context.Context, tx *sql.Tx, group []*pendingSend, order []int, chats map[domain.ChatKey]int64,
	keys []domain.ChatKey) (int64, error) {
	args := make([]any, 0, 6*len(group))
	for _, idx := range order {
		m := group[idx].m
		var clientID sql.NullString
		if m.ClientMessageID != "" {
			clientID = sql.NullString{String: m.ClientMessageID, Valid: true}
		}
		args = append(args, chats[keys[idx]], m.SenderID, m.RecipientID, clientID, m.Text, m.CreatedAt)
	}
	res, err := tx.ExecContext(ctx, insertMessage+strings.Repeat(", (?, ?, ?, ?, ?, ?)", len(group)-1), args...)
	if err != nil {
		return 0, fmt.Errorf("insert messages: %w", err)
	}
	first, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert messages: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(group)) {
		return 0, fmt.Errorf("insert messages: %d rows of %d (%v)", n, len(group), err)
	}
	return first, nil
}

// pendingFriends is one KnownFriends waiting for its group's read.
type pendingFriends struct {
	ctx  context.Context
	k    domain.ChatKey
	done chan friendsResult
}

type friendsResult struct {
	friends bool
	err     error
}

// knownFriends reads the friendship of k alone, or in a group when grouping is on: every send asks it first,
// so under load it is a statement per send unless the reads share one.
func (r *MySQLRepository) knownFriends(ctx context.Context, k domain.ChatKey) (bool, error) {
	if r.group == nil {
		return r.readFriendship(ctx, k)
	}
	p := &pendingFriends{ctx: ctx, k: k, done: make(chan friendsResult, 1)}
	r.group.friends.add(p)
	res := <-p.done
	return res.friends, res.err
}

// readFriends answers a group of friendship reads with one statement. Each read is answered from a statement
// that began after it was asked, so it sees every end of a friendship committed before that.
func (r *MySQLRepository) readFriends(group []*pendingFriends) {
	live := stillWanted(group)
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupContext(live)
	defer cancel()
	if len(live) == 1 {
		friends, err := r.readFriendship(ctx, live[0].k)
		live[0].done <- friendsResult{friends, err}
		return
	}
	keys := make([]domain.ChatKey, len(live))
	for i, p := range live {
		keys[i] = p.k
	}
	where, args := keysWhere(keys)
	known := map[domain.ChatKey]bool{}
	rows, err := r.db.QueryContext(ctx, "SELECT user_low, user_high, friends FROM friendships WHERE "+where, args...)
	if err == nil {
		_, err = mysqlx.Collect(rows, func(rs *sql.Rows) (k domain.ChatKey, err error) {
			var friends bool
			err = rs.Scan(&k.Low, &k.High, &friends)
			known[k] = friends
			return k, err
		})
	}
	for _, p := range live {
		p.done <- friendsResult{known[p.k] && err == nil, err}
	}
}
