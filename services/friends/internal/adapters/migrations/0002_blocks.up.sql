-- Blocks: who blocked whom, since when. One row a direction (both may block each other). blocks_by_blocked
-- answers "does the other block me" as a primary-key-like lookup.
CREATE TABLE blocks (
    blocker_id CHAR(36)    NOT NULL,
    blocked_id CHAR(36)    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    KEY blocks_by_blocked (blocked_id, blocker_id),
    KEY blocks_recent (blocker_id, created_at),
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
