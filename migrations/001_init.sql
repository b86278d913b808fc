-- flashsale schema v1: products (the sale), stock_shards (the ledger's allocation per shard),
-- reservations (the stock taken).
-- PostgreSQL is the ledger: each shard's `allocated` is guarded by a CHECK so the database itself
-- refuses to allocate more than the shard's capacity (and so more than the stock), even if Redis
-- (the fast path) lost writes in a failover. One row per shard, like the Redis counters, so
-- concurrent commits for different shards do not queue on one row lock.
CREATE TABLE IF NOT EXISTS products (
  product_id              text PRIMARY KEY,
  name                    text NOT NULL,
  price_cents             bigint NOT NULL CHECK (price_cents >= 0),
  currency                text NOT NULL,
  stock_total             bigint NOT NULL CHECK (stock_total >= 0),
  per_user_limit          integer NOT NULL DEFAULT 1 CHECK (per_user_limit >= 1),
  shards                  integer NOT NULL DEFAULT 10 CHECK (shards BETWEEN 1 AND 256),
  reservation_ttl_seconds integer NOT NULL DEFAULT 600 CHECK (reservation_ttl_seconds >= 1),
  sale_starts_at          timestamptz,
  sale_ends_at            timestamptz,
  generation              bigint NOT NULL DEFAULT 1,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stock_shards (
  product_id  text NOT NULL REFERENCES products (product_id) ON DELETE CASCADE,
  generation  bigint NOT NULL,
  shard       integer NOT NULL,
  capacity    bigint NOT NULL CHECK (capacity >= 0),
  allocated   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (product_id, generation, shard),
  CONSTRAINT no_oversell CHECK (allocated >= 0 AND allocated <= capacity)
);

CREATE TABLE IF NOT EXISTS reservations (
  reservation_id   uuid PRIMARY KEY,
  product_id       text NOT NULL REFERENCES products (product_id) ON DELETE CASCADE,
  generation       bigint NOT NULL,
  user_id          text NOT NULL,
  quantity         integer NOT NULL CHECK (quantity >= 1),
  status           text NOT NULL CHECK (status IN ('PENDING', 'PAYING', 'PAID', 'FAILED', 'EXPIRED')),
  amount_cents     bigint NOT NULL,
  currency         text NOT NULL,
  shard            integer NOT NULL,
  idempotency_key  text,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  order_id         uuid,
  payment_id       text,
  failure_code     text
);

CREATE INDEX IF NOT EXISTS reservations_pending_expiry
  ON reservations (expires_at) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS reservations_product_status
  ON reservations (product_id, generation, status);
CREATE INDEX IF NOT EXISTS reservations_product_user
  ON reservations (product_id, user_id);
