-- How many successful logins a stored trace stands for: itself and those of its tenant that
-- were not stored since the one before it (above the node's rate of stored traces per tenant,
-- `--traces-per-second`). The latency chart weighs runs by it. Rows stored before this
-- migration stand for themselves.
ALTER TABLE hook_traces ADD COLUMN runs INTEGER NOT NULL DEFAULT 1;
