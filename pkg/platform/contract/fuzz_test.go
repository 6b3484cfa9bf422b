package contract_test

import (
	"testing"

	"simplemessenger/platform/contract"
)

// FuzzValidUserID: whatever is accepted is a canonical lower-case UUID.
func FuzzValidUserID(f *testing.F) {
	for _, s := range []string{"", "0b5e0d0c-5a6e-4c9e-9d1f-2d3f4a5b6c7d", "0B5E0D0C-5A6E-4C9E-9D1F-2D3F4A5B6C7D", "{0b5e0d0c-5a6e-4c9e-9d1f-2d3f4a5b6c7d}", "urn:uuid:0b5e0d0c-5a6e-4c9e-9d1f-2d3f4a5b6c7d", "0b5e0d0c5a6e4c9e9d1f2d3f4a5b6c7d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !contract.ValidUserID(id) {
			return
		}
		if len(id) != 36 {
			t.Fatalf("accepted %q", id)
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			dash := i == 8 || i == 13 || i == 18 || i == 23
			if dash != (c == '-') || !dash && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("accepted non-canonical id %q", id)
			}
		}
	})
}
