package domain

import "simplemessenger/platform/rules"

// ErrInvalidFilter is a status filter the list does not know.
var ErrInvalidFilter error = rules.New("invalid_status", "status must be all, accepted, incoming or outgoing")

// Filter selects which relationships a friends list shows, from the caller's point of view.
type Filter string

const (
	FilterAll      Filter = "all" // friends and requests both ways
	FilterAccepted Filter = Filter(ViewAccepted)
	FilterIncoming Filter = Filter(ViewIncoming)
	FilterOutgoing Filter = Filter(ViewOutgoing)
)

// ParseFilter reads the status query parameter; "" (not given) is all.
func ParseFilter(s string) (Filter, error) {
	switch f := Filter(s); f {
	case "":
		return FilterAll, nil
	case FilterAll, FilterAccepted, FilterIncoming, FilterOutgoing:
		return f, nil
	}
	return "", ErrInvalidFilter
}

// Matches reports whether me's list with this filter shows r.
func (f Filter) Matches(r Relationship, me string) bool {
	return f == FilterAll || View(f) == r.ViewOf(me)
}
