package domain

import "time"

// RefreshToken is a stored refresh token. Every use spends it and issues its successor in the same session.
type RefreshToken struct {
	Hash      RefreshTokenHash
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   *time.Time
}

// RefreshOutcome is what presenting a refresh token leads to.
type RefreshOutcome int

const (
	// RefreshRotate: the token is good; spend it and issue a new pair.
	RefreshRotate RefreshOutcome = iota + 1
	// RefreshReuse: the token was spent before, so two parties hold the session's tokens and one of them
	// stole it; the whole session is revoked, the legitimate holder's newest tokens included.
	RefreshReuse
	// RefreshReject: expired, or the session is over; nothing changes.
	RefreshReject
)

func (o RefreshOutcome) String() string {
	switch o {
	case RefreshRotate:
		return "rotate"
	case RefreshReuse:
		return "reuse"
	case RefreshReject:
		return "reject"
	}
	return "unknown"
}

// DecideRefresh applies the rotation rules to a presented token of sess at now.
func DecideRefresh(tok RefreshToken, sess Session, now time.Time) RefreshOutcome {
	switch {
	case sess.Revoked():
		return RefreshReject
	case tok.SpentAt != nil:
		// Checked before expiry: an old spent token showing up is still a sign of theft while the session lives.
		return RefreshReuse
	case !now.Before(tok.ExpiresAt), !sess.Active(now):
		return RefreshReject
	default:
		return RefreshRotate
	}
}
