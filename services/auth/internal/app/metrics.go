package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/metrics"
)

// Metrics counts the outcomes operators watch: failed and throttled logins (credential stuffing) and
// refresh-token reuse (stolen tokens).
type Metrics struct {
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
}

// NewMetrics registers the counters with reg (nil: not exported, for tests), every outcome at 0 from the start.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	logins, err := metrics.NewCounts(reg, "auth_logins_total", "Login attempts by outcome.", "outcome", loginOutcomes...)
	if err != nil {
		return nil, err
	}
	refreshes, err := metrics.NewCounts(reg, "auth_refreshes_total",
		"Refresh-token uses by outcome (reuse: a spent token came back and its session was revoked).", "outcome", refreshOutcomes...)
	if err != nil {
		return nil, err
	}
	return &Metrics{logins: logins, refreshes: refreshes}, nil
}

// The outcomes (the label values).
const (
	loginOK               = "ok"
	loginInvalid          = "invalid_credentials"
	loginThrottledAccount = "throttled_account"
	loginThrottledAddress = "throttled_address"
	loginUnavailable      = "unavailable"
	refreshOK             = "ok"
	refreshInvalid        = "invalid"
	refreshReuse          = "reuse"
)

var (
	loginOutcomes   = []string{loginOK, loginInvalid, loginThrottledAccount, loginThrottledAddress, loginUnavailable}
	refreshOutcomes = []string{refreshOK, refreshInvalid, refreshReuse}
)

func (m *Metrics) login(outcome string)   { m.logins.WithLabelValues(outcome).Inc() }
func (m *Metrics) refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }
