-- One row per unordered pair of users: the pair is stored ordered (user_low < user_high) as the primary key, so
-- two requests racing from both sides collide on the key instead of making two rows.
-- updated_at is the relationship's "since": when requested, or when accepted.
CREATE TABLE relationships (
    user_low     CHAR(36)                     NOT NULL,
    user_high    CHAR(36)                     NOT NULL,
    requester_id CHAR(36)                     NOT NULL,
    status       ENUM('pending', 'accepted')  NOT NULL,
    created_at   DATETIME(6)                  NOT NULL,
    updated_at   DATETIME(6)                  NOT NULL,
    PRIMARY KEY (user_low, user_high),
    -- A user's relations are those where they are user_low (the primary key's prefix) and those where they are
    -- user_high (this index); each side is read in "since" order, newest first.
    KEY relationships_by_low (user_low, updated_at),
    KEY relationships_by_high (user_high, updated_at),
    CONSTRAINT relationships_ordered_pair CHECK (user_low < user_high),
    CONSTRAINT relationships_requester_in_pair CHECK (requester_id IN (user_low, user_high))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
