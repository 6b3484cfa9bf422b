package broker

import "time"

// SetRetryBackoff shortens the pause before a failed delivery is requeued, so that tests can drive a message
// through the whole delivery limit quickly. Call it from TestMain only.
func SetRetryBackoff(min, max time.Duration) { retryMin, retryMax = min, max }

// DropConnection closes c's current AMQP connection under it, as a broken link would; c reconnects by itself.
func DropConnection(c *Conn) {
	if s := c.current(); s != nil {
		_ = s.conn.Close()
	}
}
