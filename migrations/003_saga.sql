-- flashsale schema v3: the payment saga (issue 3). Orders, and the saga's record on each
-- reservation. Every transition is a conditional UPDATE on `status` (invariant 8); the event
-- that announces it is an outbox row in the same transaction (002_outbox.sql).
CREATE TABLE IF NOT EXISTS orders (
  order_id        uuid PRIMARY KEY,
  reservation_id  uuid NOT NULL UNIQUE REFERENCES reservations (reservation_id) ON DELETE CASCADE,
  user_id         text NOT NULL,
  product_id      text NOT NULL,
  quantity        integer NOT NULL CHECK (quantity >= 1),
  amount_cents    bigint NOT NULL,
  currency        text NOT NULL,
  payment_id      text NOT NULL,
  status          text NOT NULL DEFAULT 'CONFIRMED' CHECK (status IN ('CONFIRMED')),
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- payment_method: what the shopper asked to pay with (set by PENDING -> PAYING).
-- charge_key: the provider idempotency key; one per reservation, never one per retry.
-- saga_step / saga_attempts / saga_lease_until: the saga's progress record. A worker claims a
--   PAYING reservation by moving the lease forward (conditional on the lease having lapsed), so
--   a worker killed mid-saga is resumed by another once the lease lapses, with the same key.
-- stock_return_pending: set in the same transaction as PAYING -> FAILED / PENDING -> EXPIRED
--   (which also gives the allocation back in stock_shards); cleared once the units are back in
--   Redis. Redis returns go through the hold, so a repeated return is a no-op.
-- refund_id: a charge that succeeded for a reservation no longer PAYING was refunded.
ALTER TABLE reservations
  ADD COLUMN IF NOT EXISTS payment_method text,
  ADD COLUMN IF NOT EXISTS charge_key text,
  ADD COLUMN IF NOT EXISTS saga_step text,
  ADD COLUMN IF NOT EXISTS saga_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS saga_lease_until timestamptz,
  ADD COLUMN IF NOT EXISTS stock_return_pending boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS refund_id text;

CREATE INDEX IF NOT EXISTS reservations_paying
  ON reservations (updated_at) WHERE status = 'PAYING';
CREATE INDEX IF NOT EXISTS reservations_stock_return_pending
  ON reservations (updated_at) WHERE stock_return_pending;
