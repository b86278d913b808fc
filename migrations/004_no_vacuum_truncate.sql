-- flashsale schema v4: autovacuum never truncates the hot tables. Truncating a table's empty
-- tail takes an ACCESS EXCLUSIVE lock: the outbox (rows inserted by every reservation, deleted by
-- the relay moments later) empties its tail on every vacuum, and while the lock is held every
-- reservation INSERT (which writes the outbox row in the same statement) and the relay wait for
-- it (tens of ms observed: "still waiting for RowExclusiveLock on relation outbox ... while
-- truncating relation public.outbox", docs/benchmarks.md). The space is reused by later inserts
-- instead of being given back to the file system.
ALTER TABLE outbox SET (vacuum_truncate = false);
ALTER TABLE stock_shards SET (vacuum_truncate = false);
