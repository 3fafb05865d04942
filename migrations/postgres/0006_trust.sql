-- Revocation reaches access tokens: an access grant remembers the refresh-token family it was
-- issued with, so revoking the family (RFC 7009 2.1, reuse detection, a code replay) revokes
-- its access tokens too.
ALTER TABLE access_grants ADD COLUMN family_id TEXT;
CREATE INDEX access_grants_family ON access_grants (family_id);

-- The brute-force lock counts attempts per (user, IP) in one row, incremented atomically
-- before the password is verified (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so
-- parallel guesses cannot all pass the check. Replaces one row per failure.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip            TEXT NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    window_start  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    PRIMARY KEY (user_id, ip)
);
