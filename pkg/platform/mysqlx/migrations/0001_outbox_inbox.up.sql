-- Transactional outbox: rows are written in the same transaction as the change that causes the event and
-- relayed to RabbitMQ in seq order; published_at marks them sent (old sent rows are purged by the relay).
CREATE TABLE IF NOT EXISTS outbox (
    seq          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id     CHAR(36)        NOT NULL,
    event_type   VARCHAR(128)    NOT NULL,
    payload      MEDIUMBLOB      NOT NULL,
    headers      BLOB            NOT NULL,
    created_at   DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    published_at DATETIME(6)     NULL,
    UNIQUE KEY outbox_event_id (event_id),
    KEY outbox_pending (published_at, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Inbox: ids of events a consumer has handled, written in the handler's transaction, so a redelivered event
-- is acknowledged without being handled twice.
CREATE TABLE IF NOT EXISTS inbox (
    consumer     VARCHAR(128) NOT NULL,
    event_id     CHAR(36)     NOT NULL,
    processed_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (consumer, event_id),
    KEY inbox_processed_at (processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
