-- Edit and delete. edited_at is set when the sender changes the text; deleted_at when the sender deletes the
-- message, whose text is then emptied: the row stays as a tombstone, so ids, cursors and the chat's order stay
-- as they were. Both NULL for a message as it was sent. (Instant in InnoDB: added at the end of the row.)
ALTER TABLE messages
    ADD COLUMN edited_at  DATETIME(6) NULL,
    ADD COLUMN deleted_at DATETIME(6) NULL;
