package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"simplemessenger/platform/rules"

	"simplemessenger/services/profiles/internal/domain"
)

func TestParseIDBatchKeepsOrderAndDropsRepeatsAndBlanks(t *testing.T) {
	ids, err := domain.ParseIDBatch(" b,a,,b , c,")
	if err != nil || !slices.Equal(ids, []string{"b", "a", "c"}) {
		t.Errorf("got %q, %v", ids, err)
	}
}

func TestParseIDBatchRefusesNothingAndTooMany(t *testing.T) {
	hundred := make([]string, domain.BatchMaxIDs)
	for i := range hundred {
		hundred[i] = fmt.Sprint("id", i)
	}
	if ids, err := domain.ParseIDBatch(strings.Join(hundred, ",")); err != nil || len(ids) != domain.BatchMaxIDs {
		t.Errorf("%d ids are allowed: %d, %v", domain.BatchMaxIDs, len(ids), err)
	}
	for _, raw := range []string{"", ",", " , ", strings.Join(append(hundred, "one-more"), ",")} {
		_, err := domain.ParseIDBatch(raw)
		var ve *rules.Violation
		if !errors.As(err, &ve) || ve.Code != "invalid_query" {
			t.Errorf("%.20q…: want invalid_query, got %v", raw, err)
		}
	}
}
