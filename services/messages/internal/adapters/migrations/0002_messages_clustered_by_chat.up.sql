-- Messages are stored in chat order: the primary key (the clustered index, where InnoDB keeps the rows) becomes
-- (chat_id, id), so a page of history is one contiguous range of rows, read in one or two pages of the table
-- whatever its size. With the primary key on id alone, a chat's messages were scattered among every other
-- chat's, and the secondary index messages_chat (chat_id, id) led to one row lookup per message somewhere in
-- the table: cheap while the table fits the buffer pool, one page read per message once it does not (measured:
-- history p99 twice as slow at 10 million rows as at 10 thousand). messages_chat is now the primary key itself,
-- and id keeps a unique key of its own (AUTO_INCREMENT needs an index that starts with it; lookups by id).
-- On an existing table this rebuilds it (online in InnoDB: reads and writes go on while it runs).
ALTER TABLE messages
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (chat_id, id),
    ADD UNIQUE KEY messages_id (id),
    DROP KEY messages_chat;
