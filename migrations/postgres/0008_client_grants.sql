-- Client grants: the APIs a machine-to-machine application may get access tokens for with the
-- client-credentials grant (RFC 6749 4.4), and which of each API's scopes (a JSON array of
-- scope values). Least privilege: an application holds no grant until one is created, and the
-- token endpoint refuses an audience it holds none for. Deleting the application or the API
-- deletes its grants (by cascade).
CREATE TABLE client_grants (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    api_id      TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT client_grants_pair_uq UNIQUE (client_id, api_id)
);
CREATE INDEX client_grants_tenant ON client_grants (tenant_id, id);
CREATE INDEX client_grants_api ON client_grants (api_id);

-- The upgrade keeps running M2M clients working: before this migration any confidential
-- application allowed `client_credentials` could get a token for every API of its tenant with
-- all of that API's scopes, so each such application gets exactly that as grants (the API's
-- current scope values; `apis.scopes` holds objects `{"value": ..., "description": ...}`).
-- Applications created from now on start with none. The id is random hex after the prefix
-- (hex digits are Crockford base32 characters, so it looks like any other id). The JSON
-- columns are TEXT (see 0001), hence the casts.
INSERT INTO client_grants (id, tenant_id, client_id, api_id, scopes, created_at, updated_at)
SELECT 'cgr_' || upper(substr(md5(random()::text || a.client_id || p.id), 1, 26)),
       a.tenant_id,
       a.client_id,
       p.id,
       (SELECT COALESCE(jsonb_agg(s.e ->> 'value' ORDER BY s.i), '[]'::jsonb)::text
          FROM jsonb_array_elements(p.scopes::jsonb) WITH ORDINALITY AS s(e, i)),
       GREATEST(a.created_at, p.created_at),
       GREATEST(a.created_at, p.created_at)
FROM applications a
JOIN apis p ON p.tenant_id = a.tenant_id
WHERE a.client_type = 'confidential'
  AND a.grant_types::jsonb @> '["client_credentials"]'::jsonb;
