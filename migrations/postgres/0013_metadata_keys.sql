-- The metadata key paths each tenant's users, organizations and applications have been given,
-- as template paths (`user.user_metadata.department`): what the dashboard's template editor
-- offers. Kept by the writes that set metadata, so listing them never scans the users.
CREATE TABLE metadata_keys (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, path)
);

-- What exists already, top-level keys only (deeper ones are added when next written). A stored
-- object that is not valid JSON (the server refuses such a row, and leaves it for the operator
-- to repair) contributes nothing rather than failing the migration.
CREATE FUNCTION pg_temp.sigil_object_keys(doc TEXT) RETURNS SETOF TEXT LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT jsonb_object_keys(doc::jsonb);
EXCEPTION WHEN others THEN
    RETURN;
END
$$;

INSERT INTO metadata_keys (tenant_id, path)
SELECT DISTINCT tenant_id, root || k FROM (
    SELECT tenant_id, 'user.user_metadata.' AS root, pg_temp.sigil_object_keys(user_metadata) AS k FROM users
    UNION ALL
    SELECT tenant_id, 'user.app_metadata.', pg_temp.sigil_object_keys(app_metadata) FROM users
    UNION ALL
    SELECT tenant_id, 'organization.metadata.', pg_temp.sigil_object_keys(metadata) FROM organizations
    UNION ALL
    SELECT tenant_id, 'client.client_metadata.', pg_temp.sigil_object_keys(client_metadata) FROM applications
) AS keys
WHERE k ~ '^[A-Za-z_][A-Za-z0-9_-]{0,99}$'
ON CONFLICT DO NOTHING;
