ALTER TABLE outbox
    DROP COLUMN routing_key,
    DROP COLUMN exchange;
