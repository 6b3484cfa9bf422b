DROP TABLE IF EXISTS relationships;
