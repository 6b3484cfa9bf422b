package broker

import "time"

// SetRetryBackoff shortens the pause before a failed delivery is requeued, so that tests can drive a message
// through the whole delivery limit quickly. Call it from TestMain only.
func SetRetryBackoff(min, max time.Duration) { retryMin, retryMax = min, max }
