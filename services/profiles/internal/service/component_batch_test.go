package service_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestInternalBatchLookup(t *testing.T) {
	h := start(t)
	ann, _ := h.user("ann", "password1")
	ben, _ := h.user("ben", "password1")

	// No token needed; the users that exist come back in the order asked, each once; unknown and malformed
	// ids are left out.
	res := h.do(req{method: "GET", path: "/internal/v1/users?ids=" + strings.Join([]string{ben.ID, uuid.NewString(), "not-a-uuid", ann.ID, ben.ID}, ",")})
	var got struct{ Items []profile }
	res.json(t, &got)
	if res.status != http.StatusOK || len(got.Items) != 2 || got.Items[0] != ben || got.Items[1] != ann {
		t.Fatalf("%d %s", res.status, res.body)
	}
	res = h.do(req{method: "GET", path: "/internal/v1/users?ids=" + uuid.NewString()})
	if res.status != http.StatusOK || string(res.body) != `{"items":[]}` {
		t.Errorf("nobody found is an empty list: %d %s", res.status, res.body)
	}

	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = uuid.NewString()
	}
	hundred[99] = ann.ID
	res = h.do(req{method: "GET", path: "/internal/v1/users?ids=" + strings.Join(hundred, ",")})
	res.json(t, &got)
	if res.status != http.StatusOK || len(got.Items) != 1 || got.Items[0] != ann {
		t.Errorf("100 ids: %d %s", res.status, res.body)
	}
	expect(t, h.do(req{method: "GET", path: "/internal/v1/users?ids=" + strings.Join(append(hundred, ben.ID), ",")}), 400, "invalid_query")
	expect(t, h.do(req{method: "GET", path: "/internal/v1/users?ids="}), 400, "invalid_query")
	expect(t, h.do(req{method: "GET", path: "/internal/v1/users"}), 400, "invalid_query")
}
