-- What messages knows of friendships, so that a send between friends does not ask the friends service each time
-- (performance round 3). A row is written when friends answered "friends since <since>" (friends = 1), and when
-- friends ended the friendship that began at <since> (friends = 0): friends tells messages before it answers
-- the unfriending or the block, so the next send is refused. A later friendship has a later since; an answer about
-- an ended friendship arriving late cannot bring it back (see adapters.MySQLRepository.RememberFriends).
CREATE TABLE friendships (
    user_low  CHAR(36)    NOT NULL,
    user_high CHAR(36)    NOT NULL,
    since     DATETIME(6) NOT NULL,
    friends   BOOLEAN     NOT NULL,
    PRIMARY KEY (user_low, user_high)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
