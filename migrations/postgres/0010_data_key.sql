-- The data key: the root every stored secret is derived from (sealing keys of signing keys and
-- hook secrets, the key of the keyed hashes), kept sealed under each master key that may open
-- it. Rotating the master key adds a copy sealed under the new key and later deletes the old
-- copy; nothing else is re-encrypted, and no keyed hash (API keys, client secrets, refresh
-- tokens) changes. A database from before this table uses its master key as its data key,
-- so everything derived from it stays the same (root_key::open).
CREATE TABLE data_key_seals (
    master_id   TEXT PRIMARY KEY,
    sealed      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
