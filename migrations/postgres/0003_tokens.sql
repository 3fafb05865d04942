-- Signing keys (private keys sealed under the master key) and the server-side record of each
-- access token's /userinfo claims.

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alg             TEXT NOT NULL,
    status          TEXT NOT NULL,
    private_sealed  TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant_id, created_at);

CREATE TABLE access_grants (
    jti         TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    id_claims   TEXT NOT NULL DEFAULT '{}',
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX access_grants_user ON access_grants (user_id);

-- Refresh tokens, stored as keyed hashes. Each use rotates the token within its family; a
-- second use of a rotated token revokes the whole family (RFC 9700 4.14.2).
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    org_id      TEXT,
    scope       TEXT NOT NULL,
    audience    TEXT,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Failed password attempts per (user, IP), for the brute-force lock; in the database so every
-- node shares the counters.
CREATE TABLE login_failures (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip         TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX login_failures_pair ON login_failures (user_id, ip, at);
