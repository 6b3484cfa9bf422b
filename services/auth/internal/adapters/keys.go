package adapters

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"

	"simplemessenger/services/auth/internal/domain"
)

// storedKeyID is the one row of signing_keys: a fixed primary key makes "create it once" a race every
// replica can run at the same time, and all of them read back the winner's key.
const storedKeyID = 1

// LoadOrCreateSigningKey returns the signing key kept in the database, creating it first if there is none.
func LoadOrCreateSigningKey(ctx context.Context, db *sql.DB) (domain.SigningKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO signing_keys (id, seed) VALUES (?, ?)`, storedKeyID, seed); err != nil {
		return domain.SigningKey{}, fmt.Errorf("create signing key: %w", err)
	}
	var stored []byte
	if err := db.QueryRowContext(ctx, `SELECT seed FROM signing_keys WHERE id = ?`, storedKeyID).Scan(&stored); err != nil {
		return domain.SigningKey{}, fmt.Errorf("read signing key: %w", err)
	}
	return domain.NewSigningKey(stored)
}
