package rules_test

import (
	"errors"
	"fmt"
	"testing"

	"simplemessenger/platform/rules"
)

func TestAViolationIsFoundThroughWrapping(t *testing.T) {
	err := fmt.Errorf("register: %w", rules.New("invalid_nickname", "nickname must be 3 to 32 characters long"))
	var v *rules.Violation
	if !errors.As(err, &v) || v.Code != "invalid_nickname" || v.Message != "nickname must be 3 to 32 characters long" {
		t.Fatalf("errors.As found %+v in %v", v, err)
	}
	if got := v.Error(); got != "invalid_nickname: nickname must be 3 to 32 characters long" {
		t.Errorf("Error() = %q", got)
	}
}
