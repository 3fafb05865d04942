-- Who and what each stored flow run was about, so that the dashboard filters traces by user,
-- application and hook, and charts a hook's latency, without parsing every trace's JSON.
-- Traces stored before this migration have none of them (a tenant keeps its newest 1000, so
-- they are soon replaced).
ALTER TABLE hook_traces ADD COLUMN user_id TEXT;
ALTER TABLE hook_traces ADD COLUMN client_id TEXT;
-- The names of the hooks that ran, each between spaces (` roles stamp `; no name has a space),
-- matched with LIKE '% name %'.
ALTER TABLE hook_traces ADD COLUMN hooks TEXT NOT NULL DEFAULT '';
