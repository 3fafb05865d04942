-- A hook's fetch allow-list (contract 0.2.0): a JSON array of rules, each a host (exact or
-- `*.example.com`), optional path prefixes and methods. Empty: the hook may fetch nothing.
ALTER TABLE hooks ADD COLUMN fetch_allow TEXT NOT NULL DEFAULT '[]';
