package domain

import "time"

// Registration throttling: at most Limit registration attempts from one client address (throttle.AddressKey: an IPv6 client by its /64) within a sliding
// window (throttle.Rule). Many users share an address (households, offices, campuses and carrier NAT), and the
// contract wants limits that never bite ordinary use, so the default is far above what people behind one
// address register in an hour (also clients' test suites run against a development stack: the outside
// conformance check registers some 40 users a run), and far below what a bot creating accounts needs (200 an
// hour is one every 18 s, some 5,000 a day, per address; 20 bit a single run of the conformance check).
const (
	DefaultRegistrationsPerAddress = 200
	DefaultRegistrationWindow      = time.Hour
)
