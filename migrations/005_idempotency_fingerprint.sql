-- flashsale schema v5: the fingerprint (SHA-256 of the canonical request) an Idempotency-Key was
-- first used with, stored with the reservation it created. The replay records live in Redis;
-- after a Redis failover that lost some, the StockReconciler writes them again from these rows,
-- so a retried key still replays its 201 instead of reserving a second time (invariant 7).
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS request_fingerprint text;
CREATE INDEX IF NOT EXISTS reservations_idempotency
  ON reservations (product_id, generation, created_at) WHERE idempotency_key IS NOT NULL;
