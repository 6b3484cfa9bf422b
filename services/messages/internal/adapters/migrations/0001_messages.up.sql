-- Chats: one row per pair of users, keyed by the ordered pair (user_low < user_high). Every send locks its
-- chat's row before inserting, so the writes to one chat are serialized: ids (from the one global
-- AUTO_INCREMENT of messages) increase within a chat in commit order, and both participants see one order.
CREATE TABLE chats (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_low   CHAR(36)        NOT NULL,
    user_high  CHAR(36)        NOT NULL,
    created_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY chats_pair (user_low, user_high)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Messages. messages_chat serves history: a range on (chat_id, id) read in index order either way, so a page
-- costs its size whatever the chat's length. messages_recipient serves the unread list on entering: one
-- user's incoming messages in id order across chats. The unique key makes a client message id usable once
-- per sender (idempotent sends without check-then-insert); the NO PAD collation keeps "a" and "a " apart.
CREATE TABLE messages (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    chat_id           BIGINT UNSIGNED NOT NULL,
    sender_id         CHAR(36)        NOT NULL,
    recipient_id      CHAR(36)        NOT NULL,
    client_message_id VARCHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
    text              TEXT            NOT NULL,
    created_at        DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY messages_chat (chat_id, id),
    KEY messages_recipient (recipient_id, id),
    UNIQUE KEY messages_client_id (sender_id, client_message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Each user's side of each chat, kept by the send and read transactions: the chat list is one range of
-- chat_states_recent read backwards, and unread counts are read, not counted. last_read_id is the read
-- marker: every message addressed to user_id in this chat with an id up to it is read.
CREATE TABLE chat_states (
    user_id         CHAR(36)        NOT NULL,
    peer_id         CHAR(36)        NOT NULL,
    chat_id         BIGINT UNSIGNED NOT NULL,
    last_message_id BIGINT UNSIGNED NOT NULL,
    last_read_id    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    unread_count    INT UNSIGNED    NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, peer_id),
    KEY chat_states_recent (user_id, last_message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
