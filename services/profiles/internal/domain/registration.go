package domain

import (
	"net/netip"
	"time"

	"simplemessenger/platform/throttle"
)

// Registration throttling: at most Limit registration attempts from one client address within a sliding
// window (throttle.Rule). Households and offices share an address, so the default is far above what people
// behind one address register in an hour, and far below what a bot creating accounts needs.
const (
	DefaultRegistrationsPerAddress = 20
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
