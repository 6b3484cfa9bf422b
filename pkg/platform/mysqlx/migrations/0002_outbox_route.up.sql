-- Where the relay publishes a row: exchange '' is the domain exchange (AMQP_EXCHANGE), otherwise the suffix of
-- the exchange's name after it ('push' for <exchange>.push), so rows do not depend on the configured name;
-- routing_key '' is the event type. Rows written before this migration keep both empty and relay as before.
ALTER TABLE outbox
    ADD COLUMN exchange    VARCHAR(64)  NOT NULL DEFAULT '' AFTER event_type,
    ADD COLUMN routing_key VARCHAR(255) NOT NULL DEFAULT '' AFTER exchange;
