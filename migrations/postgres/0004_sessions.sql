-- Browser login sessions (single sign-on), authorization codes and remembered consents.
-- Cookies and codes are random secrets; only their keyed hashes are stored.

CREATE TABLE login_sessions (
    token_hash    TEXT PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    ended_at      BIGINT
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- One row per issued code (60 s, single use). The post-login flow ran when the code was
-- issued: its claims and scopes are bound here. jti and family_id name what the exchange
-- issued, so a replayed code can revoke it (RFC 6749 4.1.2, RFC 9700 4.5).
CREATE TABLE auth_codes (
    code_hash       TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT,
    nonce           TEXT,
    scope           TEXT NOT NULL,
    audience        TEXT,
    org_id          TEXT,
    sid             TEXT,
    auth_time       BIGINT NOT NULL,
    id_claims       TEXT NOT NULL,
    access_claims   TEXT NOT NULL,
    jti             TEXT NOT NULL,
    family_id       TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

-- Scopes a user granted to a third-party application (first-party apps skip consent).
CREATE TABLE consents (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- The login session a refresh-token family came from (the `sid` of refreshed ID tokens).
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT;
