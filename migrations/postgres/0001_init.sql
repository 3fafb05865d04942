-- Sigil schema, PostgreSQL flavour. Kept column-for-column identical to migrations/sqlite so
-- that one set of queries (through sqlx's Any driver) serves both back-ends: ids and JSON are
-- TEXT, times are BIGINT milliseconds since the Unix epoch, booleans are BIGINT 0/1.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    is_operator  BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email             TEXT NOT NULL,
    email_normalized  TEXT NOT NULL,
    email_verified    BIGINT NOT NULL DEFAULT 0,
    password_hash     TEXT,
    name              TEXT,
    given_name        TEXT,
    family_name       TEXT,
    nickname          TEXT,
    picture           TEXT,
    blocked           BIGINT NOT NULL DEFAULT 0,
    user_metadata     TEXT NOT NULL DEFAULT '{}',
    app_metadata      TEXT NOT NULL DEFAULT '{}',
    external_id       TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_login        BIGINT,
    logins_count      BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT users_email_normalized_uq UNIQUE (tenant_id, email_normalized),
    CONSTRAINT users_external_id_uq UNIQUE (tenant_id, external_id)
);
CREATE INDEX users_tenant ON users (tenant_id, id);

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    display_name  TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    external_id   TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT organizations_name_uq UNIQUE (tenant_id, name),
    CONSTRAINT organizations_external_id_uq UNIQUE (tenant_id, external_id)
);
CREATE INDEX organizations_tenant ON organizations (tenant_id, id);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT,
    permissions  TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT roles_name_uq UNIQUE (tenant_id, name)
);
CREATE INDEX roles_tenant ON roles (tenant_id, id);

CREATE TABLE user_roles (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE memberships (
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE membership_roles (
    organization_id  TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    role_id          TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, user_id, role_id),
    FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships(organization_id, user_id) ON DELETE CASCADE
);

CREATE TABLE applications (
    client_id                  TEXT PRIMARY KEY,
    tenant_id                  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,
    client_type                TEXT NOT NULL,
    secret_hash                TEXT,
    redirect_uris              TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris  TEXT NOT NULL DEFAULT '[]',
    allowed_web_origins        TEXT NOT NULL DEFAULT '[]',
    grant_types                TEXT NOT NULL DEFAULT '[]',
    client_metadata            TEXT NOT NULL DEFAULT '{}',
    id_token_lifetime          BIGINT NOT NULL,
    access_token_lifetime      BIGINT NOT NULL,
    refresh_token_lifetime     BIGINT NOT NULL,
    signing_alg                TEXT NOT NULL,
    first_party                BIGINT NOT NULL DEFAULT 1,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX applications_tenant ON applications (tenant_id, client_id);

CREATE TABLE apis (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    identifier  TEXT NOT NULL,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT apis_identifier_uq UNIQUE (tenant_id, identifier)
);
CREATE INDEX apis_tenant ON apis (tenant_id, id);

CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    actor          TEXT NOT NULL,
    at             BIGINT NOT NULL,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    summary        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
