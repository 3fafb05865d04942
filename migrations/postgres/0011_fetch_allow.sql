-- A hook's fetch allow-list (contract 0.2.0): a JSON array of rules, each a host (exact or
-- `*.example.com`), optional path prefixes and methods. Empty: the hook may fetch nothing.
ALTER TABLE hooks ADD COLUMN fetch_allow TEXT NOT NULL DEFAULT '[]';

-- Time for hooks that call APIs: a binding's own deadline and the flow's budget, each up to the
-- operator's fetch ceilings (null: the tenant's limits, as before).
ALTER TABLE flow_bindings ADD COLUMN deadline_ms BIGINT;
ALTER TABLE tenants ADD COLUMN flow_budget_ms BIGINT;
