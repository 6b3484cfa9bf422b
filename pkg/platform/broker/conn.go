package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"simplemessenger/platform/metrics"
)

const (
	// Reconnect backoff: quick for a blip, capped so a long outage is retried every few seconds without
	// every replica hammering the broker at once (jittered).
	reconnectMin = 250 * time.Millisecond
	reconnectMax = 8 * time.Second
	// dialTimeout bounds the TCP connect and AMQP handshake of one attempt.
	dialTimeout = 5 * time.Second
	// heartbeat detects a dead broker or network within about two intervals even when idle.
	heartbeat = 10 * time.Second
	// maxPrefetch keeps a misconfigured AMQP_PREFETCH from buffering a whole queue in one consumer.
	maxPrefetch = 1000
)

// Conn is a connection that reconnects by itself and re-declares the topology and consumers.
//
// One goroutine (run) owns the AMQP connection: it dials with capped exponential backoff, declares the
// topology, publishes the live session, waits for the connection to die, and starts over. Publishers and
// consumers only ever borrow the current session; consumers re-declare their queues on each new one.
type Conn struct {
	cfg Config
	log *slog.Logger
	met *brokerMetrics

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	mu      sync.Mutex
	sess    *session      // nil while disconnected
	changed chan struct{} // closed (and replaced) whenever sess changes, to wake waiters
	lastErr error         // why the last attempt failed or the connection was lost, for Ready
}

// session is one live AMQP connection with its pool of publishing channels.
type session struct {
	conn *amqp.Connection
	lost chan struct{} // closed when the connection is gone
	pub  *publisherPool
}

// Dial starts connecting in the background and returns at once; Ready tells when it is up.
func Dial(cfg Config, log *slog.Logger, m *metrics.Metrics) *Conn {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = DefaultConfig().Prefetch
	}
	if cfg.Prefetch > maxPrefetch {
		cfg.Prefetch = maxPrefetch
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		cfg:     cfg,
		log:     log.With("component", "broker", "exchange", cfg.Exchange),
		met:     newMetrics(m),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		lastErr: errors.New("connecting"),
	}
	go c.run()
	return c
}

// Config returns the configuration the connection was dialled with (defaults applied).
func (c *Conn) Config() Config { return c.cfg }

// Ready returns nil while connected (the /readyz check).
func (c *Conn) Ready(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if c.sess == nil || c.sess.conn.IsClosed() {
		return fmt.Errorf("%w: %v", ErrNotConnected, c.lastErr)
	}
	return nil
}

// WaitReady blocks until the connection is up, ctx ends, or the Conn is closed. Tests and start-up code that
// must not race the first connect use it; services normally just let /readyz report.
func (c *Conn) WaitReady(ctx context.Context) error {
	_, err := c.waitSession(ctx)
	return err
}

// Close stops reconnecting and closes the connection.
func (c *Conn) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// run owns the connection until Close.
func (c *Conn) run() {
	defer close(c.done)
	bo := backoff{min: reconnectMin, max: reconnectMax}
	everConnected := false
	for {
		sess, err := c.connect()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.setLastErr(err)
			d := bo.next()
			c.log.Warn("broker connect failed; retrying", "error", err, "retry_in", d.String())
			if !sleep(c.ctx, d) {
				return
			}
			continue
		}
		bo.reset()
		closed := sess.conn.NotifyClose(make(chan *amqp.Error, 1))
		if everConnected {
			c.met.reconnects.Inc()
		}
		everConnected = true
		c.setSession(sess)
		c.met.connected.Inc()
		c.log.Info("broker connected")

		var lostErr error
		select {
		case <-c.ctx.Done():
		case e := <-closed:
			lostErr = errors.New("connection closed")
			if e != nil {
				lostErr = e
			}
		}
		c.setSession(nil)
		c.met.connected.Dec()
		close(sess.lost)
		if lostErr == nil {
			_ = sess.conn.Close()
			return
		}
		c.setLastErr(lostErr)
		c.log.Warn("broker connection lost; reconnecting", "error", lostErr)
	}
}

// connect dials and declares the shared topology; a session is published only once both succeeded, so
// nobody publishes to an exchange that does not exist yet.
func (c *Conn) connect() (*session, error) {
	dialURL, err := c.cfg.DialURL()
	if err != nil {
		return nil, err
	}
	conn, err := amqp.DialConfig(dialURL, amqp.Config{
		Heartbeat:  heartbeat,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(dialTimeout),
		Properties: amqp.Table{"connection_name": filepath.Base(os.Args[0]) + " " + c.cfg.Exchange},
	})
	if err != nil {
		return nil, err
	}
	if err := c.declareTopology(conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("declare topology: %w", err)
	}
	if c.ctx.Err() != nil {
		_ = conn.Close()
		return nil, c.ctx.Err()
	}
	return &session{conn: conn, lost: make(chan struct{}), pub: newPublisherPool(conn)}, nil
}

// declareTopology declares the event exchange, the push exchange and the dead-letter exchange and queue. Declarations are
// idempotent, and re-running them on every connect recreates anything deleted while we were away.
func (c *Conn) declareTopology(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(c.cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(c.cfg.PushExchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(c.cfg.DeadLetterExchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(c.cfg.DeadLetterQueue(), true, false, false, false, nil); err != nil {
		return err
	}
	return ch.QueueBind(c.cfg.DeadLetterQueue(), "#", c.cfg.DeadLetterExchange(), false, nil)
}

func (c *Conn) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Conn) setLastErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// current returns the live session, or nil while disconnected.
func (c *Conn) current() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// waitSession returns the live session, waiting for one if need be.
func (c *Conn) waitSession(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, changed := c.sess, c.changed
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return nil, ErrClosed
		}
		if s != nil {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// backoff is capped exponential backoff with jitter (each wait is drawn from [d/2, d]).
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d unless ctx ends first; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
