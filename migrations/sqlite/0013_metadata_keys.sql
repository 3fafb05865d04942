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
INSERT OR IGNORE INTO metadata_keys (tenant_id, path)
SELECT DISTINCT tenant_id, root || k FROM (
    SELECT u.tenant_id AS tenant_id, 'user.user_metadata.' AS root, j.key AS k FROM users u, json_each(CASE WHEN json_valid(u.user_metadata) THEN CASE WHEN json_type(u.user_metadata) = 'object' THEN u.user_metadata ELSE '{}' END ELSE '{}' END) j
    UNION ALL
    SELECT u.tenant_id, 'user.app_metadata.', j.key FROM users u, json_each(CASE WHEN json_valid(u.app_metadata) THEN CASE WHEN json_type(u.app_metadata) = 'object' THEN u.app_metadata ELSE '{}' END ELSE '{}' END) j
    UNION ALL
    SELECT o.tenant_id, 'organization.metadata.', j.key FROM organizations o, json_each(CASE WHEN json_valid(o.metadata) THEN CASE WHEN json_type(o.metadata) = 'object' THEN o.metadata ELSE '{}' END ELSE '{}' END) j
    UNION ALL
    SELECT a.tenant_id, 'client.client_metadata.', j.key FROM applications a, json_each(CASE WHEN json_valid(a.client_metadata) THEN CASE WHEN json_type(a.client_metadata) = 'object' THEN a.client_metadata ELSE '{}' END ELSE '{}' END) j
)
WHERE k NOT GLOB '*[^A-Za-z0-9_-]*' AND k NOT GLOB '[0-9-]*' AND length(k) BETWEEN 1 AND 100;
