-- Users. nickname_lower is the case-insensitive identity: unique (so registration races end in a duplicate-key
-- error, not two accounts) and the index the prefix search scans in order. Nicknames are ASCII, so LOWER() and
-- the service's ASCII folding agree.
CREATE TABLE users (
    id             CHAR(36)      NOT NULL,
    nickname       VARCHAR(32)   NOT NULL,
    nickname_lower VARCHAR(32)   AS (LOWER(nickname)) STORED,
    display_name   VARCHAR(64)   NOT NULL,
    bio            VARCHAR(512)  NOT NULL DEFAULT '',
    password_hash  VARCHAR(255)  NOT NULL,
    -- avatar_etag is the current avatar's strong ETag, NULL without one (has_avatar without touching avatars).
    avatar_etag    VARCHAR(64)   NULL,
    created_at     DATETIME(6)   NOT NULL,
    updated_at     DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_nickname_lower (nickname_lower)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Avatar bytes live apart from users, so profile reads and the search's range scans never drag blobs along.
CREATE TABLE avatars (
    user_id      CHAR(36)     NOT NULL,
    content_type VARCHAR(32)  NOT NULL,
    etag         VARCHAR(64)  NOT NULL,
    data         MEDIUMBLOB   NOT NULL,
    updated_at   DATETIME(6)  NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT avatars_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
