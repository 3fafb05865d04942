-- Artifacts no version references are deleted (on hook delete and by a start-up sweep); both
-- look versions up by component hash.
CREATE INDEX hook_versions_hash ON hook_versions (hash);
