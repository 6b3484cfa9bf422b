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

// NewMetrics registers the counters with reg (nil: not exported, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_logins_total", Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_refreshes_total", Help: "Refresh-token uses by outcome (reuse: a spent token came back and its session was revoked).",
		}, []string{"outcome"}),
	}
	if err := metrics.Register(reg, m.logins, m.refreshes); err != nil {
		return nil, err
	}
	// Every outcome exists at 0 from the start: a dashboard shows 0 rather than "No data" and rate() sees the
	// first event.
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, o := range refreshOutcomes {
		m.refreshes.WithLabelValues(o)
	}
	return m, nil
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
