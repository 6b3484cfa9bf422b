DROP TABLE friendships;
