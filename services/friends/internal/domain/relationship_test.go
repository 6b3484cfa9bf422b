package domain_test

import (
	"errors"
	"testing"
	"time"

	"simplemessenger/services/friends/internal/domain"
)

const (
	ann = "0190a000-0000-7000-8000-00000000000a"
	bob = "0190a000-0000-7000-8000-00000000000b"
	cat = "0190a000-0000-7000-8000-00000000000c"
)

var (
	t0 = time.Date(2030, 1, 2, 3, 4, 5, 6789, time.FixedZone("CET", 3600))
	t1 = t0.Add(time.Minute)
	// t1Stored is t1 as storage keeps it: UTC, whole microseconds.
	t1Stored = time.Date(2030, 1, 2, 2, 5, 5, 6000, time.UTC)
)

func TestAPairHasOneSpellingWhicheverSideNamesIt(t *testing.T) {
	ab, err := domain.NewPair(ann, bob)
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := domain.NewPair(bob, ann)
	if ab != ba || ab.Low != ann || ab.High != bob {
		t.Errorf("(ann, bob) = %+v, (bob, ann) = %+v", ab, ba)
	}
	if ab.Other(ann) != bob || ab.Other(bob) != ann {
		t.Errorf("other side: %q %q", ab.Other(ann), ab.Other(bob))
	}
	if _, err := domain.NewPair(ann, ann); !errors.Is(err, domain.ErrCannotBefriendSelf) {
		t.Errorf("self: %v", err)
	}
	if _, err := domain.NewPair(ann, ""); !errors.Is(err, domain.ErrInvalidUserID) {
		t.Errorf("empty: %v", err)
	}
}

func TestAFirstRequestIsPendingAndSeenFromBothSides(t *testing.T) {
	r, err := domain.Request(nil, bob, ann, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != domain.StatusPending || r.RequesterID != bob || r.Addressee() != ann || r.Friends() {
		t.Errorf("%+v", r)
	}
	if r.ViewOf(bob) != domain.ViewOutgoing || r.ViewOf(ann) != domain.ViewIncoming {
		t.Errorf("bob sees %s, ann sees %s", r.ViewOf(bob), r.ViewOf(ann))
	}
	// Stored precision and zone, so what is returned equals what is read back.
	if want := t0.UTC().Truncate(time.Microsecond); !r.Since.Equal(want) || r.Since.Location() != time.UTC || r.CreatedAt != r.Since {
		t.Errorf("since %v created %v", r.Since, r.CreatedAt)
	}
	if _, err := domain.Request(nil, ann, ann, t0); !errors.Is(err, domain.ErrCannotBefriendSelf) {
		t.Errorf("self: %v", err)
	}
}

func TestRequestingAgainDependsOnWhoAskedFirst(t *testing.T) {
	pending, _ := domain.Request(nil, ann, bob, t0)

	if _, err := domain.Request(&pending, ann, bob, t1); !errors.Is(err, domain.ErrAlreadyRequested) {
		t.Errorf("asking twice: %v", err)
	}
	// Bob asking Ann back makes them friends at once; the request stays Ann's (she is told it was accepted).
	mutual, err := domain.Request(&pending, bob, ann, t1)
	if err != nil {
		t.Fatal(err)
	}
	if !mutual.Friends() || mutual.RequesterID != ann || mutual.Since != t1Stored || !mutual.CreatedAt.Equal(pending.CreatedAt) {
		t.Errorf("mutual: %+v", mutual)
	}
	if mutual.ViewOf(ann) != domain.ViewAccepted || mutual.ViewOf(bob) != domain.ViewAccepted {
		t.Errorf("friends are accepted from both sides")
	}
	for _, from := range []string{ann, bob} {
		if _, err := domain.Request(&mutual, from, mutual.Pair.Other(from), t1); !errors.Is(err, domain.ErrAlreadyFriends) {
			t.Errorf("%s asking a friend: %v", from, err)
		}
	}
}

func TestOnlyTheAddresseeAcceptsOrDeclinesAPendingRequest(t *testing.T) {
	pending, _ := domain.Request(nil, ann, bob, t0)

	accepted, err := domain.Accept(&pending, bob, ann, t1)
	if err != nil || !accepted.Friends() || accepted.RequesterID != ann || accepted.Since != t1Stored {
		t.Errorf("bob accepts: %+v %v", accepted, err)
	}
	if err := domain.Decline(&pending, bob, ann); err != nil {
		t.Errorf("bob declines: %v", err)
	}

	refused := []struct {
		name     string
		current  *domain.Relationship
		by, from string
	}{
		{"nothing there", nil, bob, ann},
		{"the asker accepting their own request", &pending, ann, bob},
		{"someone else", &pending, cat, ann},
		{"already friends", &accepted, bob, ann},
		{"a request from themself", &pending, bob, bob},
	}
	for _, c := range refused {
		if _, err := domain.Accept(c.current, c.by, c.from, t1); !errors.Is(err, domain.ErrRequestNotFound) {
			t.Errorf("accept, %s: %v", c.name, err)
		}
		if err := domain.Decline(c.current, c.by, c.from); !errors.Is(err, domain.ErrRequestNotFound) {
			t.Errorf("decline, %s: %v", c.name, err)
		}
	}
}

func TestRemoveEndsAnythingButNothing(t *testing.T) {
	pending, _ := domain.Request(nil, ann, bob, t0)
	accepted, _ := domain.Accept(&pending, bob, ann, t1)
	for _, r := range []*domain.Relationship{&pending, &accepted} {
		if err := domain.Remove(r); err != nil {
			t.Errorf("%s: %v", r.Status, err)
		}
	}
	if err := domain.Remove(nil); !errors.Is(err, domain.ErrFriendshipNotFound) {
		t.Errorf("nothing: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	if f, err := domain.ParseFilter(""); err != nil || f != domain.FilterAll {
		t.Errorf("default: %q %v", f, err)
	}
	for _, s := range []string{"ALL", "pending", "friends", " all"} {
		if _, err := domain.ParseFilter(s); !errors.Is(err, domain.ErrInvalidFilter) {
			t.Errorf("%q: %v", s, err)
		}
	}
	pending, _ := domain.Request(nil, ann, bob, t0)
	accepted, _ := domain.Accept(&pending, bob, ann, t1)
	cases := []struct {
		filter string
		r      domain.Relationship
		me     string
		want   bool
	}{
		{"all", pending, ann, true},
		{"all", accepted, bob, true},
		{"accepted", accepted, ann, true},
		{"accepted", pending, ann, false},
		{"incoming", pending, bob, true},
		{"incoming", pending, ann, false},
		{"outgoing", pending, ann, true},
		{"outgoing", pending, bob, false},
		{"outgoing", accepted, ann, false},
	}
	for _, c := range cases {
		f, err := domain.ParseFilter(c.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Matches(c.r, c.me); got != c.want {
			t.Errorf("%s, %s as %s: %v", c.filter, c.r.Status, c.me[len(c.me)-1:], got)
		}
	}
}
