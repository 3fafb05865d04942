-- One current and one next signing key per tenant and algorithm. Nodes of a cluster that
-- each met a tenant without keys used to make their own first keys; the partial unique index
-- makes the first insert win and the others fail, and the losers use the winner's keys
-- (keys::KeyRing::signing_key).
--
-- Duplicates made before this migration: the newest current key keeps signing (it is the one
-- every node picked) and the older ones become `previous`, still published so the tokens
-- they signed keep verifying until the next rotation retires them; extra `next` keys never
-- signed anything and are retired.
UPDATE signing_keys SET status = 'previous'
WHERE status = 'current' AND EXISTS (
    SELECT 1 FROM signing_keys newer
    WHERE newer.tenant_id = signing_keys.tenant_id AND newer.alg = signing_keys.alg
      AND newer.status = 'current'
      AND (newer.created_at > signing_keys.created_at
           OR (newer.created_at = signing_keys.created_at AND newer.kid > signing_keys.kid)));
UPDATE signing_keys SET status = 'retired'
WHERE status = 'next' AND EXISTS (
    SELECT 1 FROM signing_keys newer
    WHERE newer.tenant_id = signing_keys.tenant_id AND newer.alg = signing_keys.alg
      AND newer.status = 'next'
      AND (newer.created_at > signing_keys.created_at
           OR (newer.created_at = signing_keys.created_at AND newer.kid > signing_keys.kid)));
CREATE UNIQUE INDEX signing_keys_one_live_uq ON signing_keys (tenant_id, alg, status)
    WHERE status IN ('current', 'next');
