-- flashsale schema v2: the transactional outbox. A state change and the event that announces it
-- commit together (same transaction); the outbox relay publishes rows to the event log (Redis
-- Streams, src/events) and deletes them. Relays lock rows with FOR UPDATE SKIP LOCKED, so several
-- may run at once; a relay that dies between publish and delete publishes again (at-least-once:
-- consumers are idempotent).
CREATE TABLE IF NOT EXISTS outbox (
  id          bigserial PRIMARY KEY,
  topic       text NOT NULL,
  event_key   text NOT NULL,
  event_type  text NOT NULL,
  payload     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
