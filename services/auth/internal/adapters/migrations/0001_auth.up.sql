-- One row per login. expires_at follows the current refresh token (sliding: each refresh extends it);
-- access_expires_at is the latest expiry of the session's access tokens, so a revocation is announced for as
-- long as one of them may still be presented.
CREATE TABLE sessions (
    id                CHAR(36)     NOT NULL PRIMARY KEY,
    user_id           VARCHAR(64)  NOT NULL,
    created_at        DATETIME(6)  NOT NULL,
    last_used_at      DATETIME(6)  NOT NULL,
    expires_at        DATETIME(6)  NOT NULL,
    access_expires_at DATETIME(6)  NOT NULL,
    user_agent        VARCHAR(512) NOT NULL DEFAULT '',
    client_ip         VARCHAR(64)  NOT NULL DEFAULT '',
    revoked_at        DATETIME(6)  NULL,
    KEY sessions_user (user_id, revoked_at),
    KEY sessions_revoked_at (revoked_at),
    KEY sessions_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Refresh tokens are stored only as SHA-256 hashes. Spent ones are kept until they expire: one coming back
-- is how a stolen token is detected.
CREATE TABLE refresh_tokens (
    token_hash BINARY(32)  NOT NULL PRIMARY KEY,
    session_id CHAR(36)    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    spent_at   DATETIME(6) NULL,
    KEY refresh_tokens_session (session_id),
    KEY refresh_tokens_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Failed logins per throttle key (a hash of the nickname or of the client address), in the database so
-- every replica counts the same failures.
CREATE TABLE login_failures (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    throttle_key BINARY(32)      NOT NULL,
    failed_at    DATETIME(6)     NOT NULL,
    KEY login_failures_key (throttle_key, failed_at),
    KEY login_failures_failed_at (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The signing key used when none is configured (AUTH_SIGNING_KEYS): one fixed row, created by whichever
-- replica starts first, so all replicas sign with the same key.
CREATE TABLE signing_keys (
    id         TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    seed       VARBINARY(32)    NOT NULL,
    created_at DATETIME(6)      NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
