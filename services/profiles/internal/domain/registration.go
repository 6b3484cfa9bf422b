package domain

import (
	"net/netip"
	"time"

	"simplemessenger/platform/throttle"
)

// Registration throttling: at most Limit registration attempts from one client address within a sliding
// window (throttle.Rule). Many users share an address (households, offices, campuses and carrier NAT), and the
// contract wants limits that never bite ordinary use, so the default is far above what people behind one
// address register in an hour (also clients' test suites run against a development stack: the outside
// conformance check registers some 40 users a run), and far below what a bot creating accounts needs (200 an
// hour is one every 18 s, some 5,000 a day, per address; 20 bit a single run of the conformance check).
const (
	DefaultRegistrationsPerAddress = 200
	DefaultRegistrationWindow      = time.Hour
)

// RegistrationAddressKey is the throttle key registrations from one client address are counted under. An IPv6
// client counts by its /64: a subscriber usually gets a whole /64, and counting single addresses would give a
// bot 2^64 allowances.
func RegistrationAddressKey(addr string) throttle.Key {
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() && !a.Is4In6() {
		addr = netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return throttle.NewKey("address", addr)
}
