-- flashsale schema v6: a cheaper ANALYZE of reservations. Autovacuum analyzes the table after
-- every burst that grows it by a tenth, on the same cores as the sale it follows; with the
-- default statistics target (100) it samples 30,000 rows and sorts every column of them: 0.2-0.4 s
-- of CPU for 300,000 rows here, while the next burst's commits wait for a core. The queries on
-- this table go through its primary key and partial indexes (a sale's counts, the expiry
-- sweep, a user's holdings), which coarse statistics choose as well: a target of 10 samples
-- 3,000 rows, ~20 ms (docs/benchmarks.md, round (12)).
DO $$
DECLARE
  col text;
BEGIN
  FOR col IN
    SELECT attname FROM pg_attribute
    WHERE attrelid = 'reservations'::regclass AND attnum > 0 AND NOT attisdropped
  LOOP
    EXECUTE format('ALTER TABLE reservations ALTER COLUMN %I SET STATISTICS 10', col);
  END LOOP;
END
$$;
