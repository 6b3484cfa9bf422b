package adapters

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

var cheap = argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestArgon2HashesWithOWASPParameters(t *testing.T) {
	t.Parallel()
	h, err := NewArgon2Hasher(OWASPParams, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %s", hash)
	}
	p, salt, key, err := argon2id.DecodeHash(hash)
	if err != nil || *p != OWASPParams || len(salt) != 16 || len(key) != 32 {
		t.Errorf("params %+v salt %d key %d %v", p, len(salt), len(key), err)
	}
}

func TestArgon2CompareAndTheDummyHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewArgon2Hasher(cheap, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := h.Hash(ctx, "pässwörd1")
	if ok, err := h.Compare(ctx, "pässwörd1", hash); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := h.Compare(ctx, "passwörd1", hash); ok {
		t.Error("wrong password accepted")
	}
	// No such user: the dummy is compared (same cost) and the answer is always no.
	if ok, err := h.Compare(ctx, "anything", ""); ok || err != nil {
		t.Errorf("empty hash: %v %v", ok, err)
	}
	if !strings.Contains(h.dummy, "m=64,t=1,p=1") {
		t.Errorf("the dummy must have the real hashes' cost: %s", h.dummy)
	}
}

func TestArgon2WaitsForAFreeSlot(t *testing.T) {
	t.Parallel()
	h, err := NewArgon2Hasher(cheap, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want to wait until the deadline, got %v", err)
	}
	<-h.sem
	if _, err := h.Hash(context.Background(), "password1"); err != nil {
		t.Fatal(err)
	}
}
