-- Registration throttle per client address (hashed: fixed size, not kept in clear). registration_addresses
-- holds one row per address only so that concurrent registrations of one address, on any replica, lock the same
-- row and are counted one after another; registration_attempts holds the admitted attempts of the window.
CREATE TABLE registration_addresses (
    throttle_key    BINARY(32)  NOT NULL PRIMARY KEY,
    last_attempt_at DATETIME(6) NOT NULL,
    KEY registration_addresses_last (last_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE registration_attempts (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    throttle_key BINARY(32)      NOT NULL,
    attempted_at DATETIME(6)     NOT NULL,
    KEY registration_attempts_key (throttle_key, attempted_at),
    KEY registration_attempts_at (attempted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
