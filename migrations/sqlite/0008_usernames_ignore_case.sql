-- Usernames are unique whatever their case: `Admin` cannot be created beside `admin`.
-- Kept identical to the other dialect's 0008_usernames_ignore_case.sql. Start-up checks for
-- names that differ only by case before running this (domain::db), and names them.

UPDATE schema_version SET version = 8 WHERE id = 1;

CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
