package contract_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"simplemessenger/platform/contract"
)

func TestValidUserIDTakesOnlyCanonicalUUIDs(t *testing.T) {
	id := uuid.NewString()
	if !contract.ValidUserID(id) {
		t.Fatalf("%s refused", id)
	}
	for _, bad := range []string{"", "42", "alice", "../../etc", strings.ToUpper(id), "{" + id + "}", "urn:uuid:" + id,
		strings.ReplaceAll(id, "-", ""), id + " "} {
		if contract.ValidUserID(bad) {
			t.Errorf("%q accepted: another spelling of an id would be another user, or another chat", bad)
		}
	}
}
