-- Smaller statistics samples for the tables every message appends to. These tables are
-- read on the message path by key only (primary keys and unique indexes, whose plans
-- need no column statistics), and autovacuum analyzes each of them again every time it
-- grows by a tenth: at the default target of 100 that sorts a 30,000-row sample of each
-- of its columns, about 3 s of CPU for one round over these tables at 40,000 claims
-- (treating.claim_line_sets alone 0.75 s), a tenth of the database's CPU in a 150,000-
-- request benchmark (perf). A target of 10 samples 3,000 rows, which still gives the
-- row counts and the distinct-value estimates that ad hoc queries plan with. Opaque
-- columns (message payloads, their hashes, a claim's line array) get no statistics at
-- all: nothing filters or groups on them. The ledgers keep the default target: finance
-- queries group and filter their postings by account and window.
CREATE FUNCTION pg_temp.mc_statistics(tab regclass, opaque text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  col name;
BEGIN
  FOR col IN SELECT attname FROM pg_attribute
             WHERE attrelid = tab AND attnum > 0 AND NOT attisdropped LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS %s', tab, col,
                   CASE WHEN col = ANY (opaque) THEN 0 ELSE 10 END);
  END LOOP;
END $$;

SELECT pg_temp.mc_statistics('treating.inbox', '{payload_hash}');
SELECT pg_temp.mc_statistics('insuring.inbox', '{payload_hash}');
SELECT pg_temp.mc_statistics('clearing.inbox', '{payload_hash}');
SELECT pg_temp.mc_statistics('treating.outbox', '{payload}');
SELECT pg_temp.mc_statistics('insuring.outbox', '{payload}');
SELECT pg_temp.mc_statistics('clearing.outbox', '{payload}');
SELECT pg_temp.mc_statistics('treating.requests', '{request_hash}');
SELECT pg_temp.mc_statistics('treating.claims', '{}');
SELECT pg_temp.mc_statistics('treating.claim_line_sets', '{lines}');
SELECT pg_temp.mc_statistics('insuring.settlements', '{}');
SELECT pg_temp.mc_statistics('clearing.claims', '{}');
