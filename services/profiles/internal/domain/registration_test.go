package domain

import "testing"

func TestRegistrationsCountPerIPv4AddressAndPerIPv6Slash64(t *testing.T) {
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one subscriber's /64
		{"2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:1"},
		{"fe80::1%eth0", "fe80::2"},
	}
	for _, p := range same {
		if RegistrationAddressKey(p[0]) != RegistrationAddressKey(p[1]) {
			t.Errorf("%s and %s are counted apart", p[0], p[1])
		}
	}
	apart := [][2]string{
		{"192.0.2.1", "192.0.2.2"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "::ffff:192.0.2.2"},
	}
	for _, p := range apart {
		if RegistrationAddressKey(p[0]) == RegistrationAddressKey(p[1]) {
			t.Errorf("%s and %s share a count", p[0], p[1])
		}
	}
}
