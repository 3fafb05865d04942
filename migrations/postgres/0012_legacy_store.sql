-- The world a hook version implements: `post-login` (bound in the flow) or `user-store` (a
-- tenant's legacy store, contract 0.2.0). Every version before this was a post-login hook.
ALTER TABLE hook_versions ADD COLUMN world TEXT NOT NULL DEFAULT 'post-login';

-- A tenant's legacy user store: the user-store hook asked at password logins Sigil cannot check
-- itself, how (`migrate`: once, then the user is local; `delegate`: every login), and the
-- hook's deadline for that call (null: its limits').
CREATE TABLE legacy_stores (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    hook_id      TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    mode         TEXT NOT NULL,
    deadline_ms  BIGINT,
    updated_at   BIGINT NOT NULL
);

-- Where a user came from: `api` (created through the management API or the CLI), `import`
-- (bulk import), `legacy` (migrated from the legacy store at a login). Users before this are
-- counted as `api`, except that an import is recorded from now on.
ALTER TABLE users ADD COLUMN origin TEXT NOT NULL DEFAULT 'api';
-- When a login migrated the user from the legacy store (epoch ms).
ALTER TABLE users ADD COLUMN migrated_at BIGINT;

-- The brute-force lock's counters for login names the tenant has no user for (yet), checked by
-- the legacy store: the same windows as `login_attempts`, keyed by `subject`, a keyed hash (HMAC
-- under the master key) of the tenant and the normalized login name, never the name itself.
CREATE TABLE legacy_login_attempts (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    ip            TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject, ip)
);
