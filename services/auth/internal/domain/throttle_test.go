package domain

import (
	"testing"

	"simplemessenger/platform/throttle"
)

func TestAccountKeyIgnoresCaseAndDiffersFromAddressKey(t *testing.T) {
	if AccountKey("Alice") != AccountKey("aLICE") {
		t.Error("nickname case changes the account key")
	}
	if AccountKey("alice") == AccountKey("bob") {
		t.Error("two accounts share a key")
	}
	if AccountKey("10.0.0.1") == throttle.AddressKey("10.0.0.1") {
		t.Error("an account named like an address shares its key")
	}
}
