-- Presence (docs/architecture.md, "Where presence lives").
-- presence: one row a user who has ever been connected: whether friends last saw them online, when they were
-- last seen (the newest statement of any gateway about them), and version, counting the changes of online (so
-- that a client keeps the newest of what it hears). Its row is also the user's lock: every change of their
-- presence takes it first, so replicas of friends that handle the same user's events take turns; and a change
-- reads the friends' rows with a shared lock, so that two friends changing at once are serialised too.
CREATE TABLE presence (
    user_id      CHAR(36)        NOT NULL,
    online       BOOLEAN         NOT NULL DEFAULT FALSE,
    last_seen_at DATETIME(6)     NULL,
    version      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- presence_leases: what each gateway last said about a user's sockets there. seq orders one gateway's statements
-- (the newest wins, whatever order they arrive in); a connected lease counts until expires_at, when the sweeper
-- ends it. Ended leases stay an hour, keeping their seq against late statements.
CREATE TABLE presence_leases (
    user_id    CHAR(36)        NOT NULL,
    gateway_id VARCHAR(64)     NOT NULL,
    seq        BIGINT UNSIGNED NOT NULL,
    connected  BOOLEAN         NOT NULL,
    seen_at    DATETIME(6)     NOT NULL,
    expires_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (user_id, gateway_id),
    KEY presence_leases_by_gateway (gateway_id, connected, user_id),
    KEY presence_leases_by_expiry (connected, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
