-- Hooks: uploaded components (immutable versions), compiled artifacts, secrets, the
-- per-tenant post-login flow and execution traces.

ALTER TABLE tenants ADD COLUMN hook_limits TEXT NOT NULL DEFAULT '{}';

CREATE TABLE hooks (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    deployed_version  BIGINT,
    limits            TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT hooks_name_uq UNIQUE (tenant_id, name)
);
CREATE INDEX hooks_tenant ON hooks (tenant_id, id);

CREATE TABLE hook_versions (
    hook_id     TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    hash        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    imports     TEXT NOT NULL DEFAULT '[]',
    component   BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (hook_id, version)
);

-- Content-addressed compiled code, shared by identical uploads; MAC'd under the master key.
CREATE TABLE hook_artifacts (
    hash        TEXT NOT NULL,
    compat      TEXT NOT NULL,
    artifact    BLOB NOT NULL,
    mac         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (hash, compat)
);

CREATE TABLE hook_secrets (
    hook_id     TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (hook_id, name)
);

CREATE TABLE flow_bindings (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    hook_id    TEXT NOT NULL REFERENCES hooks(id),
    version    BIGINT,
    policy     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

CREATE TABLE hook_traces (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    context     TEXT NOT NULL,
    status      TEXT NOT NULL,
    trace       TEXT NOT NULL
);
CREATE INDEX hook_traces_tenant ON hook_traces (tenant_id, id);
