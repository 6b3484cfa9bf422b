ALTER TABLE messages
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (id),
    ADD KEY messages_chat (chat_id, id),
    DROP KEY messages_id;
