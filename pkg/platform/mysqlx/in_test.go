package mysqlx_test

import (
	"slices"
	"testing"

	"simplemessenger/platform/mysqlx"
)

func TestInGivesOnePlaceholderAValue(t *testing.T) {
	q, args := mysqlx.In([]uint64{7, 8, 9})
	if q != "?, ?, ?" || !slices.Equal(args, []any{uint64(7), uint64(8), uint64(9)}) {
		t.Errorf("In: %q %v", q, args)
	}
	if q, args := mysqlx.In([]string{"a"}); q != "?" || len(args) != 1 || args[0] != "a" {
		t.Errorf("In of one: %q %v", q, args)
	}
}
