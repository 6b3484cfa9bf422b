DROP TABLE IF EXISTS registration_attempts;
DROP TABLE IF EXISTS registration_addresses;
