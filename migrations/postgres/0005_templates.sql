-- JWT templates: declarative custom claims for the access token and the ID token, per tenant
-- (client_id '') or overriding it for one application.
CREATE TABLE jwt_templates (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL DEFAULT '',
    token       TEXT NOT NULL,
    template    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, token)
);
