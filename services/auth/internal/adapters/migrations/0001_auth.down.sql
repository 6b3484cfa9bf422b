DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS login_failures;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
